"""Figures of a sweep: the load curve and any metric against a grid parameter.

The classic picture is the *load curve*: latency (p50 and p99) against the
offered load ρ = λ·E[S] / capacity, one line per algorithm, each point the
mean over replications with its confidence interval as a band. Far from
saturation every algorithm looks alike; as ρ nears 1 the queueing delay grows
like 1/(1 − ρ) and the gap between blind policies (random, round robin) and
load-aware ones (least connections, power of two choices) opens up by an
order of magnitude. :func:`metric_vs_parameter` draws any metric against any
grid parameter the same way. Figures are built on
:class:`matplotlib.figure.Figure`, never pyplot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter

from lbsim.analysis.metrics import METRICS, describe
from lbsim.report.plots import format_seconds, variant_colors

_LINESTYLES: tuple[Literal["-", "--", ":", "-."], ...] = ("-", "--", ":", "-.")


class SweepLike(Protocol):
    """What the report needs from a sweep (``lbsim.runner.sweep.SweepResult``)."""

    @property
    def summary(self) -> pd.DataFrame: ...

    @property
    def failures(self) -> pd.DataFrame: ...

    @property
    def meta(self) -> Mapping[str, Any]: ...


def _is_time(metric: str) -> bool:
    return describe(metric).quantity == "seconds"


def _is_share(metric: str) -> bool:
    return describe(metric).quantity == "fraction"


def metric_title(column: str) -> str:
    """A catalogue metric's heading (with the unit the axis does not show); else the name."""
    if column not in METRICS:
        return column
    metric = METRICS[column]
    shown = metric.quantity in ("seconds", "fraction") or not metric.unit
    return metric.heading if shown else f"{metric.heading} ({metric.unit})"


def format_value(metric: str, value: float) -> str:
    """``12.3ms`` for times, ``4.5%`` for rates and utilisation, else 3 digits."""
    if not math.isfinite(value):
        return "–"
    if _is_time(metric):
        return format_seconds(value)
    if _is_share(metric):
        return f"{value * 100:.3g}%"
    return f"{value:.4g}"


def variant_order(summary: pd.DataFrame) -> list[str]:
    column = summary["variant"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = set(column.astype(str))
        return [str(c) for c in column.cat.categories if str(c) in present]
    return [str(v) for v in pd.unique(column)]


def _numeric(values: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(values)) and not pd.api.types.is_bool_dtype(values)


def _series(
    frame: pd.DataFrame, x: str, params: Sequence[str]
) -> list[tuple[str, str, int, pd.DataFrame]]:
    """(label, variant, style index, rows) of each line: one per variant, and
    per value of any other grid parameter that varies at the same x."""
    others = [
        p
        for p in params
        if p != x and p in frame and frame.groupby(x, dropna=False)[p].nunique().max() > 1
    ]
    lines = []
    combos: dict[tuple[Any, ...], int] = {}
    keys = ["variant", *others]
    for key, rows in frame.groupby(keys, sort=False, observed=True, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        variant, rest = str(values[0]), tuple(values[1:])
        style = combos.setdefault(rest, len(combos))
        extra = ", ".join(f"{p.rsplit('.', 1)[-1]}={v}" for p, v in zip(others, rest, strict=True))
        lines.append((f"{variant} ({extra})" if extra else variant, variant, style, rows))
    return lines


def _positions(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """x positions: the values if numeric, else 0..k-1 with the values as labels."""
    if _numeric(values):
        return values.to_numpy(dtype=np.float64), None
    labels = [str(v) for v in pd.unique(values)]
    index = {label: i for i, label in enumerate(labels)}
    return np.array([index[str(v)] for v in values], dtype=np.float64), labels


def _style(ax: Axes) -> None:
    ax.grid(True, which="major", color="#e2e2e2", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize="small")


def _y_axis(ax: Axes, metric: str, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    if _is_time(metric) and len(finite) and (finite > 0).all():
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_seconds(v)))
        ratio = finite.max() / finite.min()
        # within a decade there may be no major (power of ten) tick at all:
        # label the minor ticks, every one of them when the range is tight
        shown = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0) if ratio < 3 else (2.0, 5.0)

        def minor(v: float, _pos: int | None) -> str:
            mantissa = round(v / 10 ** math.floor(math.log10(v)), 6) if v > 0 else 0
            return format_seconds(v) if mantissa in shown else ""

        ax.yaxis.set_minor_formatter(FuncFormatter(minor) if ratio < 30 else NullFormatter())
    elif _is_share(metric):
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 100:.3g}%"))


def _panel(
    ax: Axes,
    summary: pd.DataFrame,
    metric: str,
    x: str,
    params: Sequence[str],
    colors: Mapping[str, str],
) -> list[tuple[str, str, int]]:
    """Draw ``metric`` against ``x`` with CI bands; returns the legend entries."""
    rows = summary[summary["metric"] == metric]
    entries = []
    all_values: list[float] = []
    _, labels = _positions(rows[x]) if len(rows) else (None, None)
    index = {name: i for i, name in enumerate(labels or [])}
    for label, variant, style, line in _series(rows, x, params):
        if labels is None:
            line = line.sort_values(x, kind="stable")
            xs = line[x].to_numpy(dtype=np.float64)
        else:
            xs = np.array([index[str(v)] for v in line[x]], dtype=np.float64)
        mean = line["mean"].to_numpy(dtype=np.float64)
        lo = line["ci_low"].to_numpy(dtype=np.float64)
        hi = line["ci_high"].to_numpy(dtype=np.float64)
        color = colors.get(variant, "#444444")
        ax.plot(
            xs,
            mean,
            color=color,
            linestyle=_LINESTYLES[style % len(_LINESTYLES)],
            marker="o",
            markersize=3,
            linewidth=1.6,
            label=label,
            gid=metric,
        )
        if np.isfinite(lo).any():
            ax.fill_between(
                xs, lo, hi, color=color, alpha=0.18, linewidth=0, label=f"_{label} CI", gid="ci"
            )
        all_values += [*mean, *lo, *hi]
        entries.append((label, variant, style))
    _style(ax)
    ax.set_title(metric_title(metric), fontsize="small")
    _y_axis(ax, metric, np.asarray(all_values, dtype=np.float64))
    if labels is not None:
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    return entries


def _figure(
    summary: pd.DataFrame,
    metrics: Sequence[str],
    x: str,
    xlabel: str,
    title: str,
    params: Sequence[str],
) -> Figure:
    cols = min(len(metrics), 2)
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(3.9 * cols + 2.4, 3.5 * rows + 0.4), layout="constrained", dpi=100)
    fig.suptitle(title, fontsize="medium", fontweight="bold")
    grid = fig.subplots(rows, cols, squeeze=False)
    axes = grid.ravel()[: len(metrics)]
    for spare in grid.ravel()[len(metrics) :]:
        spare.set_visible(False)
    colors = variant_colors(variant_order(summary))
    entries: dict[str, tuple[str, int]] = {}
    for ax, metric in zip(axes, metrics, strict=True):
        for label, variant, style in _panel(ax, summary, metric, x, params, colors):
            entries.setdefault(label, (variant, style))
        ax.set_xlabel(xlabel, fontsize="small")
    handles = [
        Line2D(
            [],
            [],
            color=colors.get(v, "#444444"),
            linewidth=2,
            marker="o",
            markersize=3,
            linestyle=_LINESTYLES[s % len(_LINESTYLES)],
            label=label,
        )
        for label, (v, s) in entries.items()
    ]
    if handles:
        fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize="small")
    return fig


def _ci_words(meta: Mapping[str, Any] | None) -> str:
    if not meta:
        return "mean ± 95% CI over replications"
    replications = meta.get("replications")
    if isinstance(replications, int) and replications < 2:
        return "one replication: no confidence interval"
    level = float(meta.get("confidence", 0.95)) * 100
    return f"mean and {level:g}% CI over {replications} replications"


def _load_label(meta: Mapping[str, Any] | None) -> str:
    """The offered-load axis: ρ for a constant rate, its time average for a profile."""
    arrivals = ((meta or {}).get("scenario") or {}).get("clients", {}).get("arrivals") or {}
    if arrivals.get("profile"):
        return "time-averaged offered load ρ̄ = mean λ over the run · E[S] / capacity"
    return "offered load ρ = λ·E[S] / capacity"


def load_curve(
    summary: pd.DataFrame,
    metrics: Sequence[str] = ("latency_p50", "latency_p99"),
    x: str = "offered_load",
    params: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
) -> Figure:
    """Latency against offered load, one line per variant, CI bands shaded.

    ``summary`` is a sweep's summary table (``SweepResult.summary``);
    ``params`` the grid parameters (to split lines where another grid
    parameter varies at the same load).
    """
    xlabel = _load_label(meta) if x == "offered_load" else x
    title = f"Latency against offered load ({_ci_words(meta)})"
    return _figure(summary, list(metrics), x, xlabel, title, params)


def metric_vs_parameter(
    summary: pd.DataFrame,
    parameter: str,
    metrics: str | Sequence[str] = "latency_p99",
    params: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
) -> Figure:
    """Any metric(s) against any grid parameter (or ``offered_load``), one
    panel per metric, one line per variant, with CI bands."""
    chosen = [metrics] if isinstance(metrics, str) else list(metrics)
    if parameter not in summary:
        raise ValueError(f"{parameter!r} is not a column of the sweep summary")
    title = f"Against {parameter} ({_ci_words(meta)})"
    return _figure(summary, chosen, parameter, parameter, title, params)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def sweep_figures(result: SweepLike) -> dict[str, Figure]:
    """The report's figures by file stem: the load curve when the offered load
    varies, then the key metrics against each grid parameter."""
    summary, meta = result.summary, result.meta
    params = list(meta.get("grid_params") or [])
    figures: dict[str, Figure] = {}
    if summary.empty:
        return figures
    per_point = summary.drop_duplicates("point")["offered_load"]
    if per_point.nunique() > 1:
        figures["load_curve"] = load_curve(summary, params=params, meta=meta)
    # Key metrics, leaving out any that is zero everywhere (no errors, say).
    means = summary.groupby("metric", sort=False)["mean"]
    moving = {str(m) for m, values in means if (values.abs() > 0).any()}
    metrics = [
        m for m in ("latency_mean", "latency_p99", "error_rate", "utilization_mean") if m in moving
    ] or ["latency_mean"]
    for parameter in params:
        if summary[parameter].nunique() > 1:
            name = f"metrics_vs_{_safe(parameter)}"
            figures[name] = metric_vs_parameter(summary, parameter, metrics, params, meta)
    return figures
