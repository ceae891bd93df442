"""Capacity and demand over time: autoscaled instances against the arrival rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.typing import LineStyleType

from lbsim.analysis.capacity import capacity_frame
from lbsim.report.plots.common import (
    ARRIVAL_COLOR,
    FloatArray,
    ResultLike,
    _arrival_rates,
    _by_variant,
    _legend,
    _new_figure,
    _rate_label,
    _style,
    _time_axis,
    _time_range,
    _wrap,
    key_label,
    variant_colors,
    variant_keys,
    variant_names,
)
from lbsim.report.plots.timeline import _shade_warmup
from lbsim.report.plots.titles import TITLES


def _steps(frame: pd.DataFrame, column: str, end: float) -> tuple[FloatArray, FloatArray]:
    """(times, count summed over pools) as a step line up to ``end``."""
    if frame.empty:
        return np.empty(0), np.empty(0)
    wide = frame.pivot_table(index="time", columns="pool", values=column, aggfunc="last")
    total = wide.sort_index().ffill().fillna(0).sum(axis=1)
    times = np.append(total.index.to_numpy(float), end)
    values = np.append(total.to_numpy(float), float(total.iloc[-1]))
    return times, values


def _demand(ax: Axes, result: ResultLike, hi: float) -> None:
    """The arrival rate (of the measured requests), shaded on ``ax``, a
    right-hand axis; hidden without per-request rows."""
    found = _arrival_rates(result, hi, 20.0, 20, 240)
    if found is None:  # no per-request rows (records: none)
        ax.axis("off")
        return
    edges, rates = found
    ax.stairs(rates, edges, fill=True, color=ARRIVAL_COLOR, alpha=0.25, gid="arrivals")
    ax.stairs(rates, edges, color=ARRIVAL_COLOR, linewidth=0.8, gid="arrivals")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _rate_label(v)))
    ax.set_ylabel("demand: arrivals/s", fontsize="small", color="0.35")


def capacity_over_time(result: ResultLike) -> Figure:
    """Instances provisioned (solid) and in service (dashed) per variant,
    one panel each, over the demand (arrivals per second, shaded). The gap
    between the lines is instances booting (below) or draining (above); the
    lag of the lines behind the demand is the autoscaler's reaction time."""
    names = variant_names(result) or [""]
    colors = variant_colors(names)
    keys = variant_keys(names)
    frames = _by_variant(capacity_frame(result.events))
    lo, hi = _time_range(result)
    fig = _new_figure(TITLES["capacity_over_time"], 9.0, 1.4 + 2.4 * len(names))
    grid = fig.add_gridspec(len(names), 1)
    axes: list[Axes] = []
    top = 1.0
    for row, name in enumerate(names):
        ax = fig.add_subplot(grid[row, 0], sharex=axes[0] if axes else None)
        axes.append(ax)
        demand = ax.twinx()
        _demand(demand, result, hi)
        ax.set_zorder(demand.get_zorder() + 1)
        ax.patch.set_visible(False)
        frame = frames.get(name, pd.DataFrame())
        for column, style in (("provisioned", "-"), ("in_service", "--")):
            x, y = _steps(frame, column, hi)
            if y.size:
                top = max(top, float(y.max()))
            ax.plot(
                x, y, color=colors[name], linestyle=style, linewidth=1.4, label=name,
                gid=column, drawstyle="steps-post",
            )  # fmt: skip
        _style(ax)
        ax.set_ylabel("instances", fontsize="small")
        if len(names) > 1:
            ax.set_title(
                _wrap(key_label(name, keys), 110), fontsize="small", loc="left", color=colors[name]
            )
        if row < len(names) - 1:
            ax.tick_params(labelbottom=False)
    for ax in axes:
        ax.set_ylim(0, top * 1.1)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    _time_axis(axes[-1], lo, hi)
    _shade_warmup(result, axes, lo)
    styles: list[tuple[str, LineStyleType]] = [("provisioned", "-"), ("in service", "--")]
    _legend(fig, names if len(names) == 1 else [], colors, styles)
    return fig
