"""Levels over time: queue depth and errors by kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
    MaxNLocator,
)
from matplotlib.typing import LineStyleType

from lbsim.report.plots.common import (
    _MAX_SERIES_POINTS,
    EVENT_COLOR,
    STATUS_ORDER,
    FloatArray,
    ResultLike,
    _by_variant,
    _column,
    _plain,
    _steps,
    _window_index,
    _windows,
    variant_colors,
    variant_names,
)
from lbsim.report.plots.timeline import _finish_time_figure, _time_figure
from lbsim.report.plots.titles import TITLES


def queue_depth(result: ResultLike) -> Figure:
    """Requests waiting per server over time: mean and max across servers.

    Only servers that are up count: a crashed server's empty queue would
    otherwise pull the mean down just when the survivors' queues grow. Long
    runs are thinned to ``_MAX_SERIES_POINTS`` time-averaged points.
    """
    names = variant_names(result)
    colors = variant_colors(names)
    fig, (ax,), rate = _time_figure(TITLES["queue_depth"], 1)
    groups = _by_variant(result.timeseries)
    for name in names:
        frame = groups.get(name, pd.DataFrame())
        if frame.empty or "queue" not in frame.columns:
            times, mean, peak = np.empty(0), np.empty(0), np.empty(0)
        else:
            if "up" in frame.columns:
                frame = frame[frame["up"].fillna(True).astype(bool)]
            per_time = frame.groupby("time", sort=True)["queue"].agg(["mean", "max"])
            times = per_time.index.to_numpy(dtype=float)
            mean, peak = per_time["mean"].to_numpy(float), per_time["max"].to_numpy(float)
            if times.size > _MAX_SERIES_POINTS:
                times, mean, peak = _thin(times, mean, peak)
        ax.plot(times, mean, color=colors[name], linewidth=1.4, label=name, gid="mean")
        ax.plot(
            times, peak, color=colors[name], linewidth=1.0, linestyle="--", label=name, gid="max"
        )
    ax.set_ylim(bottom=0)
    ax.set_ylabel("requests waiting per server", fontsize="small")
    styles: list[tuple[str, LineStyleType]] = [
        ("mean across servers", "-"),
        ("max across servers", "--"),
    ]
    return _finish_time_figure(fig, result, [ax], rate, names, colors, styles)


def _thin(
    times: FloatArray, mean: FloatArray, peak: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Fewer points for long runs: the time-average of both series per bin.

    Averaging the per-sample maximum (rather than taking its maximum) keeps
    the dashed line a "typical longest queue" instead of a noise envelope.
    """
    bins = np.linspace(times[0], times[-1], _MAX_SERIES_POINTS + 1)
    idx = np.clip(np.searchsorted(bins, times, side="right") - 1, 0, _MAX_SERIES_POINTS - 1)
    frame = pd.DataFrame({"bin": idx, "t": times, "mean": mean, "max": peak})
    agg = frame.groupby("bin").mean()
    return agg["t"].to_numpy(float), agg["mean"].to_numpy(float), agg["max"].to_numpy(float)


def errors_over_time(result: ResultLike) -> Figure:
    """Share of requests (by arrival window) ending in each error kind.

    One panel per error kind that occurred in any variant, one line per
    variant in each. With no errors at all, one panel of flat zero lines.
    """
    names = variant_names(result)
    colors = variant_colors(names)
    requests = result.requests
    statuses = (
        [str(s) for s in pd.unique(requests["status"].dropna())] if "status" in requests else []
    )
    kinds = [s for s in STATUS_ORDER if s != "ok" and s in statuses]
    kinds += sorted(s for s in statuses if s not in STATUS_ORDER)
    panels = kinds or ["none"]
    fig, axes, rate = _time_figure(TITLES["errors_over_time"], len(panels), panel_height=1.9)
    edges = _windows(result, per_window=500.0, lo_n=15, hi_n=100)
    groups = _by_variant(requests)
    for name in names:
        frame = groups.get(name, pd.DataFrame())
        times = _column(frame, "arrival")
        n_windows = max(len(edges) - 1, 0)
        idx = _window_index(times, edges) if edges.size else np.empty(0, dtype=np.intp)
        inside = (idx >= 0) & (idx < n_windows)
        totals = np.bincount(idx[inside], minlength=n_windows).astype(float)
        totals[totals == 0] = np.nan
        status = frame["status"].astype(str).to_numpy() if "status" in frame else np.empty(0, str)
        for ax, kind in zip(axes, panels, strict=True):
            if kind == "none":
                share = np.zeros(n_windows)
            else:
                hits = inside & (status == kind)
                share = np.bincount(idx[hits], minlength=n_windows) / totals * 100
            ax.plot(
                *_steps(edges, share), drawstyle="steps-post", color=colors[name],
                linewidth=1.4, label=name, gid=kind,
            )  # fmt: skip
    for ax, kind in zip(axes, panels, strict=True):
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{_plain(v)}%"))
        ax.set_ylabel(f"{kind}" if kind != "none" else "errors", fontsize="small")
        if kind == "none":
            ax.set_ylim(0, 1)
            ax.text(
                0.5, 0.5, "no errors in any variant", transform=ax.transAxes,
                ha="center", va="center", fontsize="small", color=EVENT_COLOR,
            )  # fmt: skip
    return _finish_time_figure(fig, result, axes, rate, names, colors)
