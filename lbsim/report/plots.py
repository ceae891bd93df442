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

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    MaxNLocator,
    NullFormatter,
    NullLocator,
)
from matplotlib.typing import LineStyleType

FloatArray = npt.NDArray[np.float64]


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


# Okabe & Ito (2008) without yellow (unreadable on white), then Tol's "muted".
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#000000",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)
EVENT_COLOR = "#555555"
ARRIVAL_COLOR = "#777777"

#: Request outcomes in the order plots and tables list them.
STATUS_ORDER: tuple[str, ...] = (
    "ok",
    "rejected",
    "no_backend",
    "conn_error",
    "server_error",
    "timeout",
    "incomplete",
)

#: (gid/legend name, quantile, line style) of the percentiles drawn over time.
PERCENTILES: tuple[tuple[str, float, LineStyleType], ...] = (
    ("p50", 0.5, "-"),
    ("p99", 0.99, "--"),
    ("p99.9", 0.999, ":"),
)

_MAX_EVENT_LABELS = 20
_MAX_CDF_POINTS = 2000
_MAX_SERIES_POINTS = 200
_NICE_WINDOWS = (
    1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0,
    60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0,
)  # fmt: skip


# --------------------------------------------------------------------------
# Shared visual language
# --------------------------------------------------------------------------


def variant_names(result: ResultLike) -> list[str]:
    """Variants in their canonical order: the summary's, then any others seen."""
    names: list[str] = []
    seen: set[str] = set()

    def add(values: Iterable[object]) -> None:
        for value in values:
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            name = str(value)
            if name not in seen:
                seen.add(name)
                names.append(name)

    if "variant" in result.summary.columns:
        add(result.summary["variant"])
    add(str(v.get("name")) for v in result.meta.get("variants") or [] if v.get("name"))
    for frame in (result.requests, result.timeseries):
        if "variant" in frame.columns and len(frame):
            add(pd.unique(frame["variant"]))
    return names


def variant_colors(names: Sequence[str]) -> dict[str, str]:
    """One fixed colour per variant, by position (cycles after 16 variants)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def format_seconds(value: float) -> str:
    """SI label for a duration in seconds: ``500µs``, ``12ms``, ``2s``, ``300s``."""
    if not math.isfinite(value):
        return ""
    if value == 0:
        return "0"
    rounded = float(f"{value:.3g}")
    magnitude = abs(rounded)
    if magnitude < 1e-3:
        return f"{_plain(rounded * 1e6)}µs"
    if magnitude < 1:
        return f"{_plain(rounded * 1e3)}ms"
    return f"{_plain(rounded)}s"


def _plain(value: float) -> str:
    """At most 3 significant digits, never in exponent notation."""
    if value == 0:
        return "0"
    return np.format_float_positional(
        float(f"{value:.3g}"), precision=3, unique=True, fractional=False, trim="-"
    )


def _rate_label(value: float) -> str:
    if abs(value) >= 1e3:
        return f"{_plain(value / 1e3)}k"
    return _plain(value)


def _style(ax: Axes) -> None:
    ax.grid(True, which="major", color="#e2e2e2", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize="small")


def _latency_axis(axis: Axis, values: Sequence[float]) -> None:
    """Log latency axis (scale already set) with SI labels; minor labels if narrow."""
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: format_seconds(v)))
    finite = [v for v in values if math.isfinite(v) and v > 0]
    narrow = bool(finite) and max(finite) / min(finite) < 100

    def minor(v: float, _pos: int | None) -> str:
        mantissa = round(v / 10 ** math.floor(math.log10(v)), 6) if v > 0 else 0
        return format_seconds(v) if mantissa in (2.0, 5.0) else ""

    axis.set_minor_formatter(FuncFormatter(minor) if narrow else NullFormatter())


class _ScaledLocator(MaxNLocator):
    """Nice ticks in a display unit (minutes, hours) for data in seconds."""

    def __init__(self, scale: float) -> None:
        super().__init__(nbins=8, steps=[1, 2, 2.5, 3, 5, 6, 10])
        self.scale = scale

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        ticks = super().tick_values(vmin / self.scale, vmax / self.scale)
        return [float(t) * self.scale for t in ticks]


def _time_axis(ax: Axes, lo: float, hi: float) -> None:
    span = hi - lo
    unit, scale = (
        ("s", 1.0) if span <= 180 else ("min", 60.0) if span <= 3 * 3600 else ("h", 3600.0)
    )
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(_ScaledLocator(scale))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _plain(v / scale)))
    ax.set_xlabel(f"simulated time ({unit})", fontsize="small")


def _legend(
    fig: Figure,
    names: Sequence[str],
    colors: Mapping[str, str],
    styles: Sequence[tuple[str, LineStyleType]] = (),
) -> None:
    handles: list[Artist] = [Line2D([], [], color=colors[n], linewidth=2, label=n) for n in names]
    handles += [Line2D([], [], color="#444444", linestyle=ls, label=lbl) for lbl, ls in styles]
    if handles:
        fig.legend(
            handles=handles,
            loc="outside right upper",
            frameon=False,
            fontsize="small",
        )


def _new_figure(title: str, width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    fig.suptitle(title, fontsize="medium", fontweight="bold")
    return fig


# --------------------------------------------------------------------------
# Data helpers
# --------------------------------------------------------------------------


def _by_variant(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if "variant" not in frame.columns or frame.empty:
        return {}
    return {str(k): g for k, g in frame.groupby("variant", observed=True, sort=False)}


def _column(frame: pd.DataFrame, name: str) -> FloatArray:
    if name not in frame.columns:
        return np.empty(0)
    return np.asarray(frame[name].to_numpy(dtype=float, na_value=np.nan), dtype=float)


def _ok_latencies(frame: pd.DataFrame) -> FloatArray:
    if frame.empty or "latency" not in frame.columns:
        return np.empty(0)
    lat = _column(frame[frame["status"] == "ok"], "latency") if "status" in frame else np.empty(0)
    return lat[np.isfinite(lat) & (lat > 0)]


def _first_workload(result: ResultLike) -> FloatArray:
    """Arrival times of one variant: every variant faces the same workload."""
    groups = _by_variant(result.requests)
    if not groups:
        return _column(result.requests, "arrival")
    first = next(iter(groups.values()))
    arrivals = _column(first, "arrival")
    return arrivals[np.isfinite(arrivals)]


def _time_range(result: ResultLike) -> tuple[float, float]:
    """The x-range shared by every time plot, in seconds of simulated time."""
    lows: list[float] = []
    highs: list[float] = []
    for frame, col in ((result.requests, "arrival"), (result.timeseries, "time")):
        values = _column(frame, col)
        values = values[np.isfinite(values)]
        if values.size:
            lows.append(float(values.min()))
            highs.append(float(values.max()))
    duration = result.meta.get("duration")
    if isinstance(duration, int | float) and duration > 0:
        highs.append(float(duration))
    lo = min(lows) if lows else 0.0
    hi = max(highs) if highs else lo + 1.0
    return lo, hi if hi > lo else lo + 1.0


def _nice_window(raw: float) -> float:
    for width in _NICE_WINDOWS:
        if width >= raw:
            return width
    return math.ceil(raw / 86400.0) * 86400.0


def _windows(result: ResultLike, per_window: float, lo_n: int, hi_n: int) -> FloatArray:
    """Edges of equal windows over the arrivals: ~``per_window`` requests each."""
    arrivals = _first_workload(result)
    if arrivals.size == 0:
        return np.empty(0)
    start = float(arrivals.min())
    end = float(arrivals.max())
    duration = result.meta.get("duration")
    if isinstance(duration, int | float) and duration > start:
        end = max(end, float(duration))
    span = max(end - start, 1e-9)
    target = min(max(arrivals.size / per_window, lo_n), hi_n)
    width = _nice_window(span / target)
    count = max(1, math.ceil(span / width - 1e-9))
    return start + width * np.arange(count + 1, dtype=float)


def _window_widths(edges: FloatArray, end: float) -> FloatArray:
    widths: FloatArray = np.minimum(edges[1:], max(end, edges[0])) - edges[:-1]
    widths[widths <= 0] = np.nan
    return widths


def _window_index(times: FloatArray, edges: FloatArray) -> npt.NDArray[np.intp]:
    idx = np.searchsorted(edges, times, side="right") - 1
    idx[times == edges[-1]] = len(edges) - 2  # the last edge belongs to the last window
    return idx


def _steps(edges: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """x, y for a ``steps-post`` line holding each window's value across the window."""
    if edges.size == 0 or values.size == 0:
        return np.empty(0), np.empty(0)
    return edges, np.append(values, values[-1])


def _windowed_quantiles(
    times: FloatArray, values: FloatArray, edges: FloatArray, quantiles: Sequence[float]
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """Quantiles of ``values`` per window of ``times`` (NaN where empty), and counts."""
    n_windows = len(edges) - 1
    out = np.full((n_windows, len(quantiles)), np.nan)
    idx = _window_index(times, edges)
    keep = (idx >= 0) & (idx < n_windows) & np.isfinite(values)
    idx, values = idx[keep], values[keep]
    counts = np.bincount(idx, minlength=n_windows)
    order = np.argsort(idx, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(counts)))
    sorted_values = values[order]
    for w in range(n_windows):
        if counts[w]:
            out[w] = np.quantile(sorted_values[bounds[w] : bounds[w + 1]], quantiles)
    return out, counts


# --------------------------------------------------------------------------
# Parts of time plots: arrivals panel, events, warm-up
# --------------------------------------------------------------------------


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
    arrivals = _first_workload(result)
    edges = _windows(result, per_window=20.0, lo_n=20, hi_n=240)
    if edges.size:
        counts, _ = np.histogram(arrivals, bins=edges)
        rates = counts / _window_widths(edges, hi)
        ax.stairs(
            np.nan_to_num(rates),
            edges,
            fill=True,
            color=ARRIVAL_COLOR,
            alpha=0.35,
            label="_arrivals",
            gid="arrivals",
        )
        ax.stairs(np.nan_to_num(rates), edges, color=ARRIVAL_COLOR, linewidth=1, gid="arrivals")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=3))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _rate_label(v)))
    ax.set_ylabel("arrivals/s", fontsize="small")
    _time_axis(ax, lo, hi)


def _event_marks(result: ResultLike, colors: Mapping[str, str]) -> list[tuple[float, str, str]]:
    """(time, label, colour) per distinct event; grey if every variant had it."""
    events = result.events
    if events.empty or "time" not in events.columns:
        return []
    everyone = set(colors)
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
            marks.append((time, f"{text} ({', '.join(sorted(set(seen_by)))})", colors[first]))
    return marks


def _draw_events(
    marks: Sequence[tuple[float, str, str]], axes: Sequence[Axes], label_on: Axes
) -> None:
    """A dashed line per event on every axes; labels on ``label_on`` only.

    Events closer together than ~2% of the x-range would overprint each
    other, so they share one label ("crash web-1 +2 more").
    """
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
    lo, hi = label_on.get_xlim()
    close = (hi - lo) * 0.02
    clusters: list[list[tuple[float, str, str]]] = []
    for mark in marks:
        if clusters and mark[0] - clusters[-1][0][0] < close:
            clusters[-1].append(mark)
        else:
            clusters.append([mark])
    for cluster in clusters[:_MAX_EVENT_LABELS]:
        time, text, color = cluster[0]
        more = f" +{len(cluster) - 1} more" if len(cluster) > 1 else ""
        label_on.text(
            time,
            0.98,
            f" {text}{more} ",
            transform=label_on.get_xaxis_transform(),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color=color,
            gid="event_label",
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.3},
        )
    if len(clusters) > _MAX_EVENT_LABELS:
        label_on.text(
            1.0,
            1.01,
            f"{len(marks)} events, the first {_MAX_EVENT_LABELS} groups labelled",
            transform=label_on.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color=EVENT_COLOR,
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
    _draw_events(_event_marks(result, colors), [*main, rate], label_on=main[0])
    _legend(fig, names, colors, styles)
    return fig


# --------------------------------------------------------------------------
# The plots
# --------------------------------------------------------------------------


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
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"p{_plain(v * 100)}"))
    ax.yaxis.set_minor_locator(NullLocator())
    if all_x:
        ax.set_xlim(min(all_x) / 1.2, max(all_x) * 1.2)
    _latency_axis(ax.xaxis, all_x)
    ax.set_xlabel("latency of ok requests (log scale)", fontsize="small")
    ax.set_ylabel("fraction of requests at or below", fontsize="small")
    _legend(fig, names, colors)
    return fig


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


def health_over_time(result: ResultLike) -> Figure:
    """Servers up (truth, solid) and servers in rotation (dashed) over time.

    "In rotation" is what a balancer believes: the backends it would route
    to. With several balancer instances each has its own dashed line (its
    own health checks; a dead instance routes nowhere). The gap between the
    lines after a failure is the detection delay.
    """
    names = variant_names(result)
    colors = variant_colors(names)
    fig, (ax,), rate = _time_figure(TITLES["health_over_time"], 1)
    series = _by_variant(result.timeseries)
    views = _by_variant(getattr(result, "balancers", pd.DataFrame()))
    for name in names:
        frame = series.get(name, pd.DataFrame())
        if frame.empty or "up" not in frame.columns:
            times, up = np.empty(0), np.empty(0)
        else:
            per_time = frame.assign(up=frame["up"].astype(float)).groupby("time")["up"].sum()
            times, up = per_time.index.to_numpy(float), per_time.to_numpy(float)
        ax.plot(times, up, color=colors[name], linewidth=1.4, label=name, gid="up")
        view = views.get(name, pd.DataFrame())
        if view.empty:  # no per-balancer samples: the sum of beliefs over servers
            healthy = frame.groupby("time")["healthy"].sum() if not frame.empty else pd.Series()
            lines = {"balancer": (healthy.index.to_numpy(float), healthy.to_numpy(float))}
        else:
            lines = {
                str(lb): (group["time"].to_numpy(float), group["in_rotation"].to_numpy(float))
                for lb, group in view.groupby("balancer", sort=True, observed=True)
            }
        for style, (lb, (x, y)) in zip(itertools.cycle(("--", ":", "-.")), lines.items()):
            ax.plot(
                x,
                y,
                color=colors[name],
                linewidth=1.0,
                linestyle=style,
                label=name,
                gid=f"in_rotation:{lb}",
            )
    ax.set_ylim(bottom=0)
    ax.set_ylabel("servers", fontsize="small")
    styles: list[tuple[str, LineStyleType]] = [("up (truth)", "-"), ("in rotation", "--")]
    return _finish_time_figure(fig, result, [ax], rate, names, colors, styles)


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


def _server_order(result: ResultLike) -> list[str]:
    names = [str(s["name"]) for s in result.meta.get("servers") or [] if s.get("name")]
    seen = set(names)
    extra: set[str] = set()
    for frame in (result.requests, result.timeseries):
        if "server" in frame.columns and len(frame):
            extra |= {str(s) for s in pd.unique(frame["server"].dropna()) if str(s)}
    extra -= seen

    def natural(name: str) -> tuple[str, int, str]:
        head, _, tail = name.rpartition("-")
        return (head, int(tail), "") if tail.isdigit() else (name, -1, name)

    return names + sorted(extra, key=natural)


def server_load(result: ResultLike) -> Figure:
    """Requests sent to each server and its utilisation, grouped by variant.

    Utilisation is the time-average of ``in_service / workers`` over the
    samples after warm-up (``workers`` from ``meta["servers"]``; for a
    server missing there, the most it was ever seen serving at once).
    """
    names = variant_names(result)
    colors = variant_colors(names)
    servers = _server_order(result)
    n_bars = max(len(servers) * max(len(names), 1), 1)
    fig = _new_figure(TITLES["server_load"], min(max(7.0, 3.0 + 0.12 * n_bars), 12.0), 6.2)
    ax_req = fig.add_subplot(2, 1, 1)
    ax_util = fig.add_subplot(2, 1, 2, sharex=ax_req)
    for ax in (ax_req, ax_util):
        _style(ax)
        ax.grid(False, axis="x")
    workers = {
        str(s["name"]): float(s.get("workers") or math.nan)
        for s in result.meta.get("servers") or []
        if s.get("name")
    }
    samples = result.timeseries
    warmup = result.meta.get("warmup")
    if isinstance(warmup, int | float) and "time" in samples and (samples["time"] >= warmup).any():
        samples = samples[samples["time"] >= warmup]
    req_groups, ts_groups = _by_variant(result.requests), _by_variant(samples)
    x = np.arange(len(servers), dtype=float)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        offset = (i - (len(names) - 1) / 2) * width
        frame = req_groups.get(name, pd.DataFrame())
        if "server" in frame.columns and not frame.empty:
            counts = frame["server"].astype(str).value_counts()
        else:
            counts = pd.Series(dtype=float)
        ax_req.bar(
            x + offset, [float(counts.get(s, 0)) for s in servers], width,
            color=colors[name], label=name, gid="requests",
        )  # fmt: skip
        ts = ts_groups.get(name, pd.DataFrame())
        util: list[float] = []
        if {"server", "in_service"} <= set(ts.columns) and not ts.empty:
            per_server = ts.groupby(ts["server"].astype(str))["in_service"].agg(["mean", "max"])
            for s in servers:
                if s not in per_server.index:
                    util.append(math.nan)
                    continue
                slots = workers.get(s, math.nan)
                if not slots > 0:
                    slots = max(float(per_server.loc[s, "max"]), 1.0)
                util.append(float(per_server.loc[s, "mean"]) / slots * 100)
        else:
            util = [math.nan] * len(servers)
        ax_util.bar(x + offset, util, width, color=colors[name], label=name, gid="utilization")
    ax_req.set_ylabel("requests", fontsize="small")
    ax_req.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax_req.tick_params(labelbottom=False)
    ax_util.set_ylabel("utilisation", fontsize="small")
    ax_util.set_ylim(0, 105)
    ax_util.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}%"))
    ax_util.set_xticks(x, servers, rotation=90 if len(servers) > 10 else 0, fontsize="small")
    ax_util.set_xlabel("server", fontsize="small")
    _legend(fig, names, colors)
    return fig


TITLES: dict[str, str] = {
    "latency_cdf": "Latency distribution (ok requests)",
    "latency_over_time": "Latency percentiles over time",
    "queue_depth": "Queue depth over time",
    "errors_over_time": "Errors by kind over time",
    "health_over_time": "Servers up and in rotation over time",
    "server_load": "Requests and utilisation per server",
}

#: One line per plot: what a reader should look for.
CAPTIONS: dict[str, str] = {
    "health_over_time": (
        "Solid: servers really up; dashed: servers the balancers route to. The dashed line "
        "lagging the solid one after a crash or recovery is the detection delay."
    ),
    "latency_cdf": (
        "Further left is faster; read the top of the plot (p99, p99.9): the tail, not the "
        "median, is where balancing strategies differ."
    ),
    "latency_over_time": (
        "Solid p50, dashed p99, dotted p99.9 per window of arrivals: look for spikes that line "
        "up with an event or the arrival-rate panel, and how fast each variant recovers."
    ),
    "queue_depth": (
        "Solid is the mean, dashed the longest queue across servers: a max far above the mean "
        "means one server is swamped while others sit idle."
    ),
    "errors_over_time": (
        "Share of the requests arriving in each window that ended in each error kind: look for "
        "bursts after failures and which variant keeps them shortest."
    ),
    "server_load": (
        "Even bar heights mean even balance; one tall bar is a hot server (compare "
        "load_imbalance in the table)."
    ),
}

PLOTS: dict[str, Callable[[ResultLike], Figure]] = {
    "latency_cdf": latency_cdf,
    "latency_over_time": latency_over_time,
    "queue_depth": queue_depth,
    "errors_over_time": errors_over_time,
    "health_over_time": health_over_time,
    "server_load": server_load,
}


def figures(result: ResultLike) -> dict[str, Figure]:
    """Every plot of ``result``, by name (the order of the report)."""
    return {name: build(result) for name, build in PLOTS.items()}
