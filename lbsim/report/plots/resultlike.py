"""What the report reads of a run, and which plots have something to show
(no matplotlib here: the page, the tables and ``--no-plots`` import this)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pandas as pd


class ResultLike(Protocol):
    """What the report needs from a run: the Result's DataFrames and meta.

    See ``lbsim.analysis.result.Result`` for the columns; plain objects with these
    attributes (a dataclass, a ``SimpleNamespace``) work as well.
    """

    @property
    def summary(self) -> pd.DataFrame: ...

    @property
    def requests(self) -> pd.DataFrame: ...

    @property
    def timeseries(self) -> pd.DataFrame: ...

    @property
    def events(self) -> pd.DataFrame: ...

    @property
    def meta(self) -> Mapping[str, Any]: ...


def has_data(name: str, result: ResultLike) -> bool:
    """Whether plot ``name`` would show anything: no latency plots without
    per-request rows, no error plot without errors, no health plot when
    every server stayed up and in rotation throughout and no event concerned
    a server or balancer instance, no queue plot when no
    sample ever saw a request waiting."""
    requests, series = result.requests, result.timeseries
    if name in ("latency_cdf", "latency_over_time"):
        return "status" in requests.columns and bool((requests["status"] == "ok").any())
    if name == "errors_over_time":
        return "status" in requests.columns and bool((requests["status"] != "ok").any())
    if name == "health_over_time":
        changed = [
            col
            for frame, col in ((series, "up"), (series, "healthy"))
            if col in frame.columns and not frame[col].fillna(True).astype(bool).all()
        ]
        balancers = getattr(result, "balancers", None)
        if balancers is not None and "in_rotation" in balancers.columns and len(balancers):
            per_lb = balancers.groupby(["variant", "balancer"], observed=True)["in_rotation"]
            changed += ["in_rotation"] if bool((per_lb.nunique() > 1).any()) else []
        return bool(changed) or _hosts_had_events(result)
    if name == "capacity_over_time":  # autoscaling events carry the pool's counts
        events = result.events
        return "detail" in events.columns and bool(
            events["detail"].astype(str).str.contains("in_service=").any()
        )
    if name == "server_load":
        return not (requests.empty and series.empty)
    if name == "queue_depth":  # flat zero lines say nothing the summary does not
        return "queue" in series.columns and bool((series["queue"] > 0).any())
    return not series.empty


def _hosts_had_events(result: ResultLike) -> bool:
    """Whether an event targets a server or a balancer instance (a canary's
    ``shift`` of a pool is no health event)."""
    events, series = result.events, result.timeseries
    if events.empty or "target" not in events.columns:
        return False
    servers = set(series["server"].astype(str)) if "server" in series.columns else set()
    targets = events["target"].astype(str)
    return bool((targets.isin(servers) | targets.str.startswith("lb-")).any())
