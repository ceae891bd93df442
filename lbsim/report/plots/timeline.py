"""Figures over simulated time: the arrival panel, event marks, warm-up shading."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
    MaxNLocator,
)
from matplotlib.typing import LineStyleType

from lbsim.report.plots.common import (
    _MAX_EVENT_LABELS,
    ARRIVAL_COLOR,
    EVENT_COLOR,
    ResultLike,
    _arrival_rates,
    _legend,
    _new_figure,
    _rate_label,
    _style,
    _time_axis,
    _time_range,
    variant_keys,
)


def _time_figure(
    title: str, panels: int, panel_height: float = 3.2
) -> tuple[Figure, list[Axes], Axes]:
    """A figure with ``panels`` main axes and an arrival-rate strip, x shared."""
    fig = _new_figure(title, 9.0, panels * panel_height + 1.9)
    grid = fig.add_gridspec(panels + 1, 1, height_ratios=[4.0] * panels + [1.3])
    main = [fig.add_subplot(grid[i, 0]) for i in range(panels)]
    rate = fig.add_subplot(grid[panels, 0], sharex=main[0])
    for ax in main[1:]:
        ax.sharex(main[0])
    for ax in [*main, rate]:
        _style(ax)
    for ax in main:
        ax.tick_params(labelbottom=False)
    return fig, main, rate


def _arrival_panel(ax: Axes, result: ResultLike, lo: float, hi: float) -> None:
    """Arrivals per second in windows over the whole run, shown over [lo, hi]
    (a zoom shows the same windows: their rates never depend on the view);
    a note instead without per-request rows (``records: none``)."""
    found = _arrival_rates(result, _time_range(result)[1], 20.0, 20, 240)
    if found is None:
        ax.text(
            0.5, 0.5, "arrivals: no per-request rows kept (records: none)",
            transform=ax.transAxes, ha="center", va="center", fontsize="small", color="0.35",
        )  # fmt: skip
        ax.set_yticks([])
    else:
        edges, rates = found
        ax.stairs(
            rates, edges, fill=True, color=ARRIVAL_COLOR, alpha=0.35, label="_arrivals",
            gid="arrivals",
        )  # fmt: skip
        ax.stairs(rates, edges, color=ARRIVAL_COLOR, linewidth=1, gid="arrivals")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _rate_label(v)))
    ax.set_ylabel("arrivals/s", fontsize="small")
    _time_axis(ax, lo, hi)


def _event_marks(events: pd.DataFrame, colors: Mapping[str, str]) -> list[tuple[float, str, str]]:
    """(time, label, colour) per distinct event; grey if every variant had it,
    else in the colour of the first that did, naming them (abbreviated like
    the legend: :func:`~lbsim.report.plots.common.variant_keys`)."""
    if events.empty or "time" not in events.columns:
        return []
    everyone = set(colors)
    keys = variant_keys(list(colors))
    groups: dict[tuple[float, str, str], list[str]] = {}
    for row in events.itertuples(index=False):
        data = row._asdict()
        time = float(data.get("time", math.nan))
        if not math.isfinite(time):
            continue
        kind = "" if pd.isna(data.get("kind")) else str(data.get("kind"))
        target = "" if pd.isna(data.get("target")) else str(data.get("target"))
        variant = "" if pd.isna(data.get("variant")) else str(data.get("variant"))
        groups.setdefault((time, kind, target), []).append(variant)
    marks = []
    for (time, kind, target), seen_by in sorted(groups.items()):
        text = f"{kind} {target}".strip()
        if len(everyone) <= 1 or everyone <= set(seen_by) or not set(seen_by) & everyone:
            marks.append((time, text, EVENT_COLOR))
        else:
            first = next(v for v in colors if v in seen_by)
            who = ", ".join(keys.get(v, v) for v in colors if v in seen_by)
            marks.append((time, f"{text} ({who})", colors[first]))
    return marks


def _draw_events(
    marks: Sequence[tuple[float, str, str]], axes: Sequence[Axes], label_on: Axes | None
) -> None:
    """A dashed line per event on every axes; labels on ``label_on`` only.

    Events closer together than ~2% of the x-range would overprint each
    other, so they share one label ("crash web-1 +2 more"). Past
    ``_MAX_EVENT_LABELS`` events the lines would hide the data: a rug of
    short ticks along the bottom of each axes and a count stand for them
    (the report's event table lists them). ``label_on=None``: lines only.
    """
    if len(marks) > _MAX_EVENT_LABELS:
        _event_rug(marks, axes, label_on)
        return
    for time, _text, color in marks:
        for ax in axes:
            ax.axvline(
                time,
                color=color,
                linewidth=1.0,
                linestyle=(0, (4, 2)),
                alpha=0.85,
                zorder=1.5,
                label="_event",
                gid="event",
            )
    if label_on is None:
        return
    lo, hi = label_on.get_xlim()
    close = (hi - lo) * 0.02
    clusters: list[list[tuple[float, str, str]]] = []
    for mark in marks:
        if clusters and mark[0] - clusters[-1][0][0] < close:
            clusters[-1].append(mark)
        else:
            clusters.append([mark])
    for cluster in clusters:
        time, text, color = cluster[0]
        more = f" +{len(cluster) - 1} more" if len(cluster) > 1 else ""
        label_on.text(
            time,
            0.98,
            f" {text}{more} ",
            transform=label_on.get_xaxis_transform(),
            rotation=90,
            va="top",
            ha="left" if time - lo < close else "right",  # not over the y tick labels
            fontsize=7,
            color=color,
            gid="event_label",
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.3},
        )


def _event_rug(
    marks: Sequence[tuple[float, str, str]], axes: Sequence[Axes], label_on: Axes | None
) -> None:
    """Many events as a rug (a short tick per event at the bottom) and a count."""
    for ax in axes:
        for color in dict.fromkeys(color for _, _, color in marks):
            times = [time for time, _, c in marks if c == color]
            ax.vlines(
                times, 0, 0.05, transform=ax.get_xaxis_transform(), colors=color,
                linewidth=0.8, alpha=0.8, zorder=1.5, label="_event", gid="event_rug",
            )  # fmt: skip
    if label_on is None:
        return
    kinds = Counter(text.split(" ", 1)[0] for _, text, _ in marks)
    counts = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    label_on.text(
        1.0,
        1.01,
        f"{len(marks)} events ({counts}): ticks along the bottom",
        transform=label_on.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color=EVENT_COLOR,
        gid="event_count",
    )


def _shade_warmup(result: ResultLike, axes: Sequence[Axes], lo: float) -> None:
    """Shade [start, warm-up): shown in the time series, left out of metrics."""
    warmup = result.meta.get("warmup")
    if not isinstance(warmup, int | float) or warmup <= lo:
        return
    for ax in axes:
        ax.axvspan(lo, float(warmup), color="#000000", alpha=0.06, linewidth=0, gid="warmup")
    # Requests are measured after warm-up only: the arrivals panel is empty there.
    axes[-1].text(
        lo,
        0.5,
        " warm-up",
        transform=axes[-1].get_xaxis_transform(),
        fontsize=7,
        color=EVENT_COLOR,
        va="center",
    )


def _finish_time_figure(
    fig: Figure,
    result: ResultLike,
    main: Sequence[Axes],
    rate: Axes,
    names: Sequence[str],
    colors: Mapping[str, str],
    styles: Sequence[tuple[str, LineStyleType]] = (),
) -> Figure:
    lo, hi = _time_range(result)
    _arrival_panel(rate, result, lo, hi)
    _shade_warmup(result, [*main, rate], lo)
    _draw_events(_event_marks(result.events, colors), [*main, rate], label_on=main[0])
    _legend(fig, names, colors, styles)
    return fig
