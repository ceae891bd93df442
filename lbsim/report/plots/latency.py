"""Latency plots: the distribution (CDF) and percentiles over time."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    NullLocator,
)

from lbsim.report.plots.common import (
    _MAX_CDF_POINTS,
    PERCENTILES,
    ResultLike,
    _by_variant,
    _column,
    _latency_axis,
    _legend,
    _new_figure,
    _ok_latencies,
    _steps,
    _style,
    _windowed_quantiles,
    _windows,
    variant_colors,
    variant_names,
)
from lbsim.report.plots.timeline import _finish_time_figure, _time_figure
from lbsim.report.plots.titles import TITLES


def latency_cdf(result: ResultLike) -> Figure:
    """Empirical CDF of ok latencies per variant: log-latency x, logit y.

    The y axis is logit-scaled and labelled in percentiles (p50, p99, p99.9)
    so the tail, where strategies differ, gets as much room as the median.
    Points sit at Hazen plotting positions ``(i + 0.5) / n``; above
    ``_MAX_CDF_POINTS`` values the curve is drawn through order statistics
    spaced evenly in logit, which is exact at every plotted point.
    """
    names = variant_names(result)
    colors = variant_colors(names)
    fig = _new_figure(TITLES["latency_cdf"], 8.0, 5.0)
    ax = fig.add_subplot()
    _style(ax)
    ax.set_xscale("log")
    ax.set_yscale("logit")
    groups = _by_variant(result.requests)
    all_x: list[float] = []
    top = 0.99
    for name in names:
        lat = np.sort(_ok_latencies(groups.get(name, pd.DataFrame())))
        n = lat.size
        if n:
            if n > _MAX_CDF_POINTS:
                lo_p, hi_p = 0.5 / n, 1 - 0.5 / n
                grid = np.linspace(math.log(lo_p / (1 - lo_p)), math.log(hi_p / (1 - hi_p)), 2000)
                idx = np.unique(np.clip(np.floor(n / (1 + np.exp(-grid))), 0, n - 1).astype(int))
            else:
                idx = np.arange(n)
            x, p = lat[idx], (idx + 0.5) / n
            all_x += [float(lat[min(n - 1, int(0.01 * n))]), float(lat[-1])]
            top = max(top, float(p[-1]))
        else:
            x, p = np.empty(0), np.empty(0)
        ax.plot(
            x, p, color=colors[name], linewidth=1.6, label=name, gid="cdf", drawstyle="steps-post"
        )
    ticks = [t for t in (0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999) if t <= top]
    ax.set_ylim(0.01, top)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: percentile_label(v)))
    ax.yaxis.set_minor_locator(NullLocator())
    if all_x:
        ax.set_xlim(min(all_x) / 1.2, max(all_x) * 1.2)
    _latency_axis(ax.xaxis, all_x)
    ax.set_xlabel("latency of ok requests (log scale)", fontsize="small")
    ax.set_ylabel("fraction of requests at or below", fontsize="small")
    _legend(fig, names, colors)
    return fig


def percentile_label(fraction: float) -> str:
    """``p50``, ``p99.9``, ``p99.999``: every digit that tells two ticks apart."""
    return "p" + f"{fraction * 100:.6f}".rstrip("0").rstrip(".")


def latency_over_time(result: ResultLike) -> Figure:
    """p50, p99 and p99.9 of ok latencies per window of arrival time.

    A percentile is drawn only for windows holding at least ``1 / (1 - q)``
    ok requests (100 for p99, 1000 for p99.9): below that it would just be
    the window's maximum.
    """
    names = variant_names(result)
    colors = variant_colors(names)
    fig, (ax,), rate = _time_figure(TITLES["latency_over_time"], 1)
    ax.set_yscale("log")
    edges = _windows(result, per_window=2000.0, lo_n=15, hi_n=100)
    groups = _by_variant(result.requests)
    values: list[float] = []
    for name in names:
        frame = groups.get(name, pd.DataFrame())
        ok = frame[frame["status"] == "ok"] if "status" in frame else frame.iloc[0:0]
        times, lat = _column(ok, "arrival"), _column(ok, "latency")
        positive = lat > 0
        if edges.size:
            qs, counts = _windowed_quantiles(
                times[positive], lat[positive], edges, [q for _, q, _ in PERCENTILES]
            )
        else:
            qs, counts = np.empty((0, len(PERCENTILES))), np.empty(0, dtype=np.intp)
        for j, (gid, q, style) in enumerate(PERCENTILES):
            series = np.where(counts >= round(1 / (1 - q)), qs[:, j], np.nan)
            values += [float(v) for v in series[np.isfinite(series)]]
            ax.plot(
                *_steps(edges, series), drawstyle="steps-post", color=colors[name],
                linestyle=style, linewidth=1.4, label=name, gid=gid,
            )  # fmt: skip
    _latency_axis(ax.yaxis, values)
    ax.set_ylabel("latency of ok requests", fontsize="small")
    styles = [(gid, style) for gid, _, style in PERCENTILES]
    return _finish_time_figure(fig, result, [ax], rate, names, colors, styles)
