"""The report's plots by name, in report order."""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

from lbsim.report.plots.capacity import capacity_over_time
from lbsim.report.plots.health import health_over_time
from lbsim.report.plots.latency import latency_cdf, latency_over_time
from lbsim.report.plots.levels import errors_over_time, queue_depth
from lbsim.report.plots.resultlike import ResultLike, has_data
from lbsim.report.plots.servers import server_load

PLOTS: dict[str, Callable[[ResultLike], Figure]] = {
    "latency_cdf": latency_cdf,
    "latency_over_time": latency_over_time,
    "queue_depth": queue_depth,
    "errors_over_time": errors_over_time,
    "health_over_time": health_over_time,
    "capacity_over_time": capacity_over_time,
    "server_load": server_load,
}


def figures(result: ResultLike) -> dict[str, Figure]:
    """Every plot of ``result`` that has something to show, by name (the
    order of the report)."""
    return {name: build(result) for name, build in PLOTS.items() if has_data(name, result)}
