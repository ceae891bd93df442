"""Plots and the HTML report of a sweep.

The classic picture is the *load curve*: latency (p50 and p99) against the
offered load ρ = λ·E[S] / capacity, one line per algorithm, each point the
mean over replications with its confidence interval as a band. Far from
saturation every algorithm looks alike; as ρ nears 1 the queueing delay grows
like 1/(1 − ρ) and the gap between blind policies (random, round robin) and
load-aware ones (least connections, power of two choices) opens up by an
order of magnitude. :func:`metric_vs_parameter` draws any metric against any
grid parameter the same way.

Like the rest of :mod:`lbsim.report`, figures are built on
:class:`matplotlib.figure.Figure` (never pyplot) and the report is one
self-contained HTML file: images inlined as base64, no script, no URL. The
report reads only a sweep's tables (:class:`SweepLike`), never the engine.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from functools import partial
from html import escape
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter
from rich.table import Table

from lbsim.analysis.metrics import METRICS, SWEEP_METRICS, describe
from lbsim.report import write_page
from lbsim.report.html import BASE_CSS
from lbsim.report.plots import format_seconds, variant_colors

__all__ = [
    "SweepLike",
    "format_value",
    "load_curve",
    "metric_vs_parameter",
    "render_sweep_html",
    "sweep_figures",
    "sweep_table",
    "write_sweep_report",
]

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


def _title(column: str) -> str:
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


def _variants(summary: pd.DataFrame) -> list[str]:
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
        narrow = finite.max() / finite.min() < 30

        def minor(v: float, _pos: int | None) -> str:
            mantissa = round(v / 10 ** math.floor(math.log10(v)), 6) if v > 0 else 0
            return format_seconds(v) if mantissa in (2.0, 5.0) else ""

        ax.yaxis.set_minor_formatter(FuncFormatter(minor) if narrow else NullFormatter())
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
    ax.set_title(_title(metric), fontsize="small")
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
    colors = variant_colors(_variants(summary))
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
    level = float(meta.get("confidence", 0.95)) * 100
    return f"mean and {level:g}% CI over {meta.get('replications', '?')} replications"


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
    xlabel = "offered load ρ = λ·E[S] / capacity" if x == "offered_load" else x
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


# ---------------------------------------------------------------- tables


def _wide(
    summary: pd.DataFrame, metrics: Sequence[str], params: Sequence[str], compact: bool = False
) -> pd.DataFrame:
    """One row per point and variant: parameters, then ``mean [lo, hi]`` per
    metric (``mean ± half-width`` for a t-interval when ``compact``)."""
    rows = summary[summary["metric"].isin(metrics)]
    keys = ["point", *params, "variant"]
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in rows.to_dict("records"):
        ident = tuple(record[k] for k in keys)
        row = out.setdefault(ident, {k: record[k] for k in keys})
        mean, lo, hi = record["mean"], record["ci_low"], record["ci_high"]
        metric = str(record["metric"])
        text = format_value(metric, mean)
        if math.isfinite(lo) and math.isfinite(hi):
            if compact and record.get("ci_method") == "t":
                text += f" ± {format_value(metric, (hi - lo) / 2)}"
            else:
                text += f" [{format_value(metric, lo)}, {format_value(metric, hi)}]"
        row[metric] = text
    frame = pd.DataFrame(list(out.values()))
    return frame[[c for c in [*keys, *metrics] if c in frame]] if len(frame) else frame


def sweep_table(
    summary: pd.DataFrame,
    params: Sequence[str] = (),
    metrics: Sequence[str] = ("latency_p50", "latency_p99", "error_rate"),
) -> Table:
    """A terminal table: one row per grid point and variant, ``mean ± CI`` cells."""
    metrics = [m for m in metrics if m in set(summary["metric"])]
    wide = _wide(summary, metrics, [p for p in params if p in summary], compact=True)
    if params and "point" in wide:
        wide = wide.drop(columns="point")
    table = Table(show_edge=False, header_style="bold")
    for column in wide.columns:
        numeric = column in metrics
        table.add_column(_title(column), justify="right" if numeric else "left")
    for record in wide.itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in record))
    return table


# ---------------------------------------------------------------- html

_CSS = (
    BASE_CSS
    + """
.meta, .note { color: var(--muted); }
.note { font-size: .9rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { padding: .3rem .55rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: var(--bad); }
figure { margin: 0 0 1.5rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); margin-top: .3rem; }
footer { color: var(--muted); font-size: .8rem; margin-top: 3rem; }
"""
)

_CAPTIONS = {
    "load_curve": "Latency against offered load, one line per variant. Bands are confidence "
    "intervals across replications. Look at where the p99 lines leave each other: near "
    "saturation, load-aware algorithms keep queues short while blind ones do not.",
}


def _caption(name: str) -> str:
    if name in _CAPTIONS:
        return _CAPTIONS[name]
    if name.startswith("metrics_vs_"):
        return "Key metrics against a grid parameter, one line per variant, CI bands shaded."
    return name


def _html_table(frame: pd.DataFrame, numeric: set[str]) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    body = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            css = ' class="num"' if column in numeric else ""
            cells.append(f"<td{css}>{escape('' if value is None else str(value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_sweep_html(result: SweepLike, images: Mapping[str, bytes]) -> str:
    """The sweep report as one HTML document; ``images`` maps name -> PNG bytes."""
    meta, summary = result.meta, result.summary
    name = str(meta.get("name", "sweep"))
    params = [p for p in meta.get("grid_params") or [] if p in summary]
    variants = list(meta.get("variants") or [])
    level = float(meta.get("confidence", 0.95)) * 100
    method = (
        "Student t-interval over replications"
        if meta.get("ci", "t") == "t"
        else "Student t-interval, BCa bootstrap over replications for percentiles and maxima"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(name)} — lbsim sweep</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(name)} — sweep</h1>",
        f'<p class="meta">{meta.get("points", "?")} grid point(s) × {len(variants)} variant(s) '
        f"× {meta.get('replications', '?')} replication(s) = {meta.get('runs', '?')} runs: "
        f"{meta.get('ran', '?')} ran now, {meta.get('reused', '?')} reused from earlier, "
        f"{meta.get('failed', '?')} failed.</p>",
        "<h2>What was varied</h2><dl>",
    ]
    for parameter, values in (meta.get("grid") or {}).items():
        parts.append(
            f"<dt>{escape(str(parameter))} (grid)</dt>"
            f"<dd>{escape(', '.join(map(str, values)))}</dd>"
        )
    if meta.get("compare_params"):
        compared = ", ".join(map(str, meta["compare_params"]))
        parts.append(
            f"<dt>{escape(compared)} (compare)</dt><dd>{escape(', '.join(map(str, variants)))}</dd>"
        )
    parts.append(
        f"<dt>replications</dt><dd>{meta.get('replications', '?')}, seeds derived from scenario "
        f"seed {escape(str(meta.get('seed', '?')))} with SeedSequence; replication r uses the "
        "same seed at every grid point and in every variant (paired comparisons)</dd></dl>"
    )
    parts.append(
        f'<p class="note">Each value is the mean over replications with a {level:g}% '
        f"confidence interval ({method}). Intervals are never computed from the pooled requests "
        "of one run: the latencies of successive requests in a queue are correlated, so such an "
        "interval would be much too narrow. With one replication there is no interval.</p>"
    )
    if images:
        parts.append("<h2>Plots</h2>")
    for stem, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        parts.append(
            f'<figure><img src="{uri}" alt="{escape(stem)}">'
            f"<figcaption>{escape(_caption(stem))}</figcaption></figure>"
        )
    metrics = [m for m in SWEEP_METRICS if m in set(summary.get("metric", []))]
    if len(summary):
        wide = _wide(summary, metrics, params)
        wide = wide.rename(columns={m: _title(m) for m in metrics})
        parts.append("<h2>Results</h2>")
        parts.append(_html_table(wide, {_title(m) for m in metrics}))
        parts.append(
            '<p class="note">All metrics with their intervals are in '
            "sweep_summary.csv; every replication's values in runs.parquet.</p>"
        )
    failures = result.failures
    if len(failures):
        parts.append(f"<h2>Failed runs ({len(failures)})</h2>")
        shown = failures.drop(columns=[c for c in ("traceback", "run_key") if c in failures])
        parts.append(_html_table(shown, set()))
    version = escape(str(meta.get("lbsim_version", "")))
    parts.append(
        f"<footer>lbsim {version} · source {escape(str(meta.get('source', '')))}"
        "</footer></body></html>"
    )
    return "\n".join(parts)


def write_sweep_report(
    result: SweepLike, out_dir: Path, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """Write every sweep plot (one file per format) and ``report.html`` into ``out_dir``."""

    render = partial(render_sweep_html, result)
    return write_page(sweep_figures(result), render, out_dir, formats)
