"""Per-server session shares, from the request rows of a run with sessions."""

from __future__ import annotations

import pandas as pd


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
