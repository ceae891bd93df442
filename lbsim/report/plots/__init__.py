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

The plot functions import matplotlib, so they are imported on first use:
``TITLES``, ``CAPTIONS``, ``ResultLike`` and ``has_data`` (what the HTML page,
the tables and ``--no-plots`` need) do not pull it in.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from lbsim.report.plots.resultlike import ResultLike, has_data
from lbsim.report.plots.titles import CAPTIONS, TITLES

if TYPE_CHECKING:
    from lbsim.report.plots.capacity import capacity_over_time
    from lbsim.report.plots.catalogue import PLOTS, figures
    from lbsim.report.plots.common import (
        PALETTE,
        PERCENTILES,
        STATUS_ORDER,
        format_seconds,
        variant_colors,
        variant_names,
    )
    from lbsim.report.plots.health import health_over_time
    from lbsim.report.plots.latency import latency_cdf, latency_over_time
    from lbsim.report.plots.levels import errors_over_time, queue_depth
    from lbsim.report.plots.servers import server_load

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

# public name -> the module (of this package) defining it, imported on first use
_LAZY = {
    **dict.fromkeys(["PLOTS", "figures"], "catalogue"),
    **dict.fromkeys(
        [
            "PALETTE",
            "PERCENTILES",
            "STATUS_ORDER",
            "format_seconds",
            "variant_colors",
            "variant_names",
        ],
        "common",
    ),
    "capacity_over_time": "capacity",
    "health_over_time": "health",
    **dict.fromkeys(["latency_cdf", "latency_over_time"], "latency"),
    **dict.fromkeys(["errors_over_time", "queue_depth"], "levels"),
    "server_load": "servers",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lbsim.report.plots' has no attribute {name!r}")
    value = getattr(import_module(f"lbsim.report.plots.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
