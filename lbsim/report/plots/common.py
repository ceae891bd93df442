"""The plots' shared visual language and data helpers: colours, axes, windows."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import (
    FuncFormatter,
    MaxNLocator,
    NullFormatter,
)
from matplotlib.typing import LineStyleType

from lbsim.report.plots.resultlike import ResultLike

FloatArray = npt.NDArray[np.float64]


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

_MAX_EVENT_LABELS = 16
_MAX_CDF_POINTS = 2000
_MAX_SERIES_POINTS = 200
_NICE_WINDOWS = (
    1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0,
    60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0,
)  # fmt: skip


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
    """One fixed colour per variant, by position; past the palette's 16, evenly
    spaced along matplotlib's ``turbo`` map instead, so no two variants (and
    no two entries of a key) share a colour."""
    if len(names) <= len(PALETTE):
        return {name: PALETTE[i] for i, name in enumerate(names)}
    shades = colormaps["turbo"](np.linspace(0.05, 0.95, len(names)))
    return {name: to_hex(shade) for name, shade in zip(names, shades, strict=True)}


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


_LEGEND_WRAP = 36  # characters per legend line
_SIDE_LEGEND_MAX = 22  # longer labels (or many of them) go below the plot
#: Variant names longer than this are shown in a plot as letters (A, B...),
#: with the legend as the key ("A: least_connections, slow_start=30s").
KEY_WIDTH = 22


def variant_keys(
    names: Sequence[str], width: int = KEY_WIDTH, digits: bool = False
) -> dict[str, str]:
    """What a plot writes for each variant: its name while every name fits in
    ``width`` characters, else A, B, ... Z, AA... in order (1, 2... with
    ``digits``, where letters mean something else); :func:`key_label` is the key."""
    if not names or max(len(n) for n in names) <= width:
        return {n: n for n in names}
    return {n: str(i + 1) if digits else _letters(i) for i, n in enumerate(names)}


def _letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (spreadsheet columns)."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("A") + rest) + text
    return text


def key_label(name: str, keys: Mapping[str, str]) -> str:
    """A legend's (or panel title's) text: ``A: full name``, or the name when not abbreviated."""
    key = keys.get(name, name)
    return name if key == name else f"{key}: {name}"


def _legend(
    fig: Figure,
    names: Sequence[str],
    colors: Mapping[str, str],
    styles: Sequence[tuple[str, LineStyleType]] = (),
) -> None:
    """The variants' colours (and line styles) in one legend: at the right
    for a few short names, else below the axes in as many columns as fit,
    long names wrapped, so the axes keep their width. When names are
    abbreviated (:func:`variant_keys`), each entry is ``A: full name``: the key."""
    keys = variant_keys(names)
    labels = [key_label(n, keys) for n in names]
    handles: list[Artist] = [
        Line2D([], [], color=colors[n], linewidth=2, label=_wrap(label))
        for n, label in zip(names, labels, strict=True)
    ]
    handles += [Line2D([], [], color="#444444", linestyle=ls, label=lbl) for lbl, ls in styles]
    if not handles:
        return
    longest = max(len(n) for n in [*labels, *(lbl for lbl, _ in styles)])
    if longest <= _SIDE_LEGEND_MAX and len(names) <= 8:
        fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize="small")
        return
    chars = fig.get_figwidth() * 11  # "small" text, characters per inch of width, with margins
    columns = max(1, min(len(handles), int(chars // (min(longest, _LEGEND_WRAP) + 6))))
    fig.legend(
        handles=handles, loc="outside lower center", ncols=columns, frameon=False,
        fontsize="small",
    )  # fmt: skip


def _wrap(label: str, width: int = _LEGEND_WRAP) -> str:
    """A long variant label on several lines, broken after commas or spaces."""
    return "\n".join(textwrap.wrap(label, width, break_on_hyphens=False)) or label


def _new_figure(title: str, width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    fig.suptitle(title, fontsize="medium", fontweight="bold")
    return fig


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
    """The x-range shared by every time plot, in seconds of simulated time:
    from the first sample or arrival to the last measured arrival (the
    scenario's ``duration`` without per-request rows), not the end of the drain."""
    lows: list[float] = []
    for frame, col in ((result.requests, "arrival"), (result.timeseries, "time")):
        values = _column(frame, col)
        values = values[np.isfinite(values)]
        if values.size:
            lows.append(float(values.min()))
    arrivals = _column(result.requests, "arrival")
    arrivals = arrivals[np.isfinite(arrivals)]
    duration = result.meta.get("duration")
    if arrivals.size:
        hi = float(arrivals.max())
    elif isinstance(duration, int | float) and duration > 0:
        hi = float(duration)
    else:
        times = _column(result.timeseries, "time")
        times = times[np.isfinite(times)]
        hi = float(times.max()) if times.size else 1.0
    lo = min(lows) if lows else 0.0
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
    span = max(end - start, 1e-9)
    target = min(max(arrivals.size / per_window, lo_n), hi_n)
    width = _nice_window(span / target)
    count = max(1, math.ceil(span / width - 1e-9))
    return start + width * np.arange(count + 1, dtype=float)


def _arrival_rates(
    result: ResultLike, end: float, per_window: float, lo_n: int, hi_n: int
) -> tuple[FloatArray, FloatArray] | None:
    """Arrivals per second of one variant (:func:`_first_workload`'s) in
    windows over its rows (edges, rates): from a sample of the rows
    (``records: sample``, every k-th request by id) k times their count;
    None without per-request rows."""
    arrivals = _first_workload(result)
    edges = _windows(result, per_window=per_window, lo_n=lo_n, hi_n=hi_n)
    if not edges.size or not arrivals.size:
        return None
    first = next(iter(_by_variant(result.requests)), None)
    every = (result.meta.get("rows_every") or {}).get(first) or 1
    counts, _ = np.histogram(arrivals, bins=edges)
    return edges, np.nan_to_num(counts * float(every) / _window_widths(edges, end))


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
