"""Session summary metrics from a run's records, and per-server session
shares from the request rows of a run with sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lbsim.engine.records import Recorder
from lbsim.scenario.models.sessions import SessionStore


def session_metrics(
    rec: Recorder, store: SessionStore | None, lo: float, hi: float
) -> dict[str, float]:
    """Sessions started in [lo, hi), how many lost their state, the max/mean
    of sessions per server by where their state first lived, and the session
    store's utilisation over the window (none without sessions or a store:
    optional metrics)."""
    row: dict[str, float] = {}
    busy = rec.store_busy_area
    if store is not None and busy is not None:
        row["store_utilization"] = float(busy / ((hi - lo) * store.workers))
    facts = rec.sessions
    if facts is None:
        return row
    measured = (facts.start >= lo) & (facts.start < hi)
    home = facts.home[measured]
    per_server = np.bincount(home[home >= 0], minlength=rec.n_servers)
    row["sessions_started"] = int(measured.sum())
    row["sessions_lost"] = int(facts.lost[measured].sum())
    row["session_imbalance"] = (
        float(per_server.max() / per_server.mean()) if per_server.sum() else np.nan
    )
    return row


def session_share(requests: pd.DataFrame) -> pd.DataFrame:
    """Sessions per variant and server by where their state first lived (the
    server of each session's first ``ok`` answer): ``sessions`` and ``share``
    (a fraction of the variant's sessions). Needs the ``session`` column
    (runs with ``clients.sessions``) and rows of every request (``records: all``)."""
    if "session" not in requests:
        raise ValueError("no session column: the run has no clients.sessions")
    ok = requests[requests["status"] == "ok"].sort_values("arrival", kind="stable")
    first = ok.groupby(["variant", "session"], observed=True)["server"].first().reset_index()
    counts = first.groupby(["variant", "server"], observed=False).size().rename("sessions")
    frame = counts.reset_index()
    totals = frame.groupby("variant", observed=True)["sessions"].transform("sum")
    frame["share"] = frame["sessions"] / totals
    return frame
