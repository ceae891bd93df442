"""Servers up and in rotation over time: one panel per variant, and a zoom
on the first detection window (where the balancers' view lags the truth)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.typing import LineStyleType

from lbsim.report.plots.common import (
    FloatArray,
    ResultLike,
    _by_variant,
    _legend,
    _new_figure,
    _style,
    _time_range,
    _wrap,
    key_label,
    variant_colors,
    variant_keys,
    variant_names,
)
from lbsim.report.plots.timeline import _arrival_panel, _draw_events, _event_marks, _shade_warmup
from lbsim.report.plots.titles import TITLES

Lines = dict[str, tuple[FloatArray, FloatArray]]  # balancer -> (times, backends in rotation)


def _variant_lines(
    frame: pd.DataFrame, view: pd.DataFrame
) -> tuple[tuple[FloatArray, FloatArray], Lines]:
    """(times, servers up) and, per balancer instance, (times, in rotation)."""
    if frame.empty or "up" not in frame.columns:
        up: tuple[FloatArray, FloatArray] = (np.empty(0), np.empty(0))
    else:
        per_time = frame.assign(up=frame["up"].astype(float)).groupby("time")["up"].sum()
        up = (per_time.index.to_numpy(float), per_time.to_numpy(float))
    if not view.empty:
        lines = {
            str(lb): (group["time"].to_numpy(float), group["in_rotation"].to_numpy(float))
            for lb, group in view.groupby("balancer", sort=True, observed=True)
        }
    elif not frame.empty and "healthy" in frame.columns:  # the sum of beliefs over servers
        healthy = frame.groupby("time")["healthy"].sum()
        lines = {"balancer": (healthy.index.to_numpy(float), healthy.to_numpy(float))}
    else:
        lines = {}
    return up, lines


def detection_window(
    variants: Sequence[tuple[tuple[FloatArray, FloatArray], Lines]], after: float = 0.0
) -> tuple[float, float] | None:
    """The first stretch of time from ``after`` on (the warm-up's start-up
    checks are not a detection) where some balancer's rotation differs from
    the servers up (a failure not yet detected, or a recovery not yet
    trusted), over every variant: (start, end), or None if there is none."""
    start, end = math.inf, -math.inf
    for (times, up), lines in variants:
        for x, y in lines.values():
            if x.size == 0 or times.size == 0:
                continue
            truth = np.interp(x, times, up)
            lagging = np.flatnonzero((np.abs(truth - y) > 0.5) & (x >= after))
            if lagging.size == 0:
                continue
            first = lagging[0]
            stop = first
            while stop + 1 < x.size and abs(truth[stop + 1] - y[stop + 1]) > 0.5:
                stop += 1
            if x[first] < start:
                start, end = float(x[first]), float(x[min(stop + 1, x.size - 1)])
            elif x[first] <= end:
                end = max(end, float(x[min(stop + 1, x.size - 1)]))
    return (start, end) if math.isfinite(start) else None


def health_over_time(result: ResultLike) -> Figure:
    """Servers up (truth, solid) and servers in rotation (dashed) over time.

    One panel per variant (overlapping step lines are unreadable), and, when
    balancers lag the truth somewhere, a zoom on the first such window at the
    right. "In rotation" is what a balancer believes: the backends it would
    route to; with several balancer instances each has its own dashed line.
    The gap between the lines after a failure is the detection delay.
    """
    names = variant_names(result) or [""]
    colors = variant_colors(names)
    keys = variant_keys(names)
    series = _by_variant(result.timeseries)
    views = _by_variant(getattr(result, "balancers", pd.DataFrame()))
    data = [
        _variant_lines(series.get(n, pd.DataFrame()), views.get(n, pd.DataFrame())) for n in names
    ]
    lo, hi = _time_range(result)
    warmup = result.meta.get("warmup")
    after = float(warmup) if isinstance(warmup, int | float) else lo
    zoom = _zoom_range(detection_window(data, after), lo, hi)
    row = 1.5 if len(names) > 1 else 3.2
    fig = _new_figure(
        TITLES["health_over_time"], 9.0 if zoom is None else 11.0, 1.9 + row * len(names)
    )
    grid = fig.add_gridspec(
        len(names) + 1, 1 if zoom is None else 2, height_ratios=[4.0] * len(names) + [1.6],
        width_ratios=None if zoom is None else [2.2, 1.0],
    )  # fmt: skip
    columns: list[tuple[float, float]] = [(lo, hi)] if zoom is None else [(lo, hi), zoom]
    marks = _event_marks(result.events, colors) if len(names) == 1 else []
    top = max([float(up.max()) for (_, up), _ in data if up.size] + [1.0])
    for c, (x_lo, x_hi) in enumerate(columns):
        axes = [fig.add_subplot(grid[r, c]) for r in range(len(names))]
        rate = fig.add_subplot(grid[len(names), c], sharex=axes[0])
        for ax in axes:
            ax.sharex(rate)
            _style(ax)
            ax.tick_params(labelbottom=False)
            ax.set_ylim(0, top * 1.08)
        _style(rate)
        for ax, name, lines in zip(axes, names, data, strict=True):
            _draw_variant(ax, name, colors[name], *lines)
            if c == 0:
                ax.set_ylabel("servers", fontsize="small")
                if len(names) > 1:
                    title = _wrap(key_label(name, keys), 110)
                    ax.set_title(title, fontsize="small", loc="left", color=colors[name])
        _arrival_panel(rate, result, x_lo, x_hi)
        _shade_warmup(result, [*axes, rate], x_lo)
        if len(names) == 1:
            shown = [m for m in marks if x_lo <= m[0] <= x_hi]
            _draw_events(shown, [*axes, rate], label_on=axes[0])
            continue
        # small multiples: each panel its own variant's events, unlabelled
        # (the report's event table names them); a count on the main column
        for ax, name in zip(axes, names, strict=True):
            own = _by_variant(result.events).get(name, pd.DataFrame())
            shown = [m for m in _event_marks(own, {name: colors[name]}) if x_lo <= m[0] <= x_hi]
            _draw_events(shown, [ax], label_on=ax if c == 0 and len(shown) > 16 else None)
        if c == 1:
            axes[0].set_title("zoom: first detection window", fontsize="small", loc="left")
    styles: list[tuple[str, LineStyleType]] = [("up (truth)", "-"), ("in rotation", "--")]
    _legend(fig, names if len(names) == 1 else [], colors, styles)
    return fig


def _zoom_range(
    window: tuple[float, float] | None, lo: float, hi: float
) -> tuple[float, float] | None:
    """The detection window with margins, if it is small enough to be worth a zoom."""
    if window is None:
        return None
    start, end = window
    pad = max(0.5 * (end - start), 0.01 * (hi - lo))
    z_lo, z_hi = max(lo, start - pad), min(hi, end + pad)
    return (z_lo, z_hi) if z_hi - z_lo < 0.4 * (hi - lo) else None


def _draw_variant(
    ax: Axes,
    name: str,
    color: str,
    up: tuple[FloatArray, FloatArray],
    lines: Mapping[str, tuple[FloatArray, FloatArray]],
) -> None:
    ax.plot(*up, color=color, linewidth=1.4, label=name, gid="up", drawstyle="steps-post")
    for style, (lb, (x, y)) in zip(itertools.cycle(("--", ":", "-.")), lines.items()):
        ax.plot(
            x, y, color=color, linewidth=1.0, linestyle=style, label=name,
            gid=f"in_rotation:{lb}", drawstyle="steps-post",
        )  # fmt: skip
