"""Plots of a simulation result, one function per plot.

Every plot speaks the same visual language, so a reader learns it once:

* each variant keeps one colour in every plot (Okabe-Ito, then Paul Tol's
  "muted" palette: both stay distinguishable with the common colour-vision
  deficiencies);
* latency axes are logarithmic, with SI tick labels chosen by magnitude
  (``500µs``, ``10ms``, ``2s``);
* time axes read in s, min or h of simulated time, and the warm-up (left out
  of every metric) is shaded;
* events (crashes, health transitions, scaling...) are dashed vertical
  markers with a label, grey when every variant saw them, in the variant's
  colour when only one did;
* every plot over time has a small arrival-rate panel underneath (the
  workload is identical for all variants, so one line), so a latency spike
  can be matched with the traffic that caused it.

Figures are built with :class:`matplotlib.figure.Figure` directly, never
pyplot: no backend is selected and no global state is touched, so these
functions are safe in notebooks, tests and worker processes alike.

Every line drawn for a variant has ``label`` equal to the variant name and a
``gid`` naming the statistic it shows (``"p99"``, ``"max"``, a status...).
Helper artists have labels starting with ``_`` (hidden from legends) and a
gid of their own: ``"event"``, ``"arrivals"``, ``"warmup"``.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

from lbsim.report.plots.capacity import capacity_over_time
from lbsim.report.plots.common import (
    PALETTE,
    PERCENTILES,
    STATUS_ORDER,
    ResultLike,
    format_seconds,
    variant_colors,
    variant_names,
)
from lbsim.report.plots.health import health_over_time
from lbsim.report.plots.latency import latency_cdf, latency_over_time
from lbsim.report.plots.levels import errors_over_time, queue_depth
from lbsim.report.plots.servers import server_load
from lbsim.report.plots.titles import CAPTIONS, TITLES

__all__ = [
    "CAPTIONS",
    "PALETTE",
    "PERCENTILES",
    "PLOTS",
    "STATUS_ORDER",
    "TITLES",
    "ResultLike",
    "capacity_over_time",
    "errors_over_time",
    "figures",
    "format_seconds",
    "has_data",
    "health_over_time",
    "latency_cdf",
    "latency_over_time",
    "queue_depth",
    "server_load",
    "variant_colors",
    "variant_names",
]

PLOTS: dict[str, Callable[[ResultLike], Figure]] = {
    "latency_cdf": latency_cdf,
    "latency_over_time": latency_over_time,
    "queue_depth": queue_depth,
    "errors_over_time": errors_over_time,
    "health_over_time": health_over_time,
    "capacity_over_time": capacity_over_time,
    "server_load": server_load,
}


def has_data(name: str, result: ResultLike) -> bool:
    """Whether plot ``name`` would show anything: no latency plots without
    per-request rows, no error plot without errors, no health plot when
    every server stayed up and in rotation throughout."""
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
        return bool(changed) or not result.events.empty
    if name == "capacity_over_time":
        events = result.events
        return "detail" in events.columns and bool(
            events["detail"].astype(str).str.contains("in_service=").any()
        )
    if name == "server_load":
        return not (requests.empty and series.empty)
    return not series.empty


def figures(result: ResultLike) -> dict[str, Figure]:
    """Every plot of ``result`` that has something to show, by name (the
    order of the report)."""
    return {name: build(result) for name, build in PLOTS.items() if has_data(name, result)}
