"""The tables and the HTML report of a sweep (its figures: :mod:`lbsim.report.sweep_charts`).

Like the rest of :mod:`lbsim.report`, the report is one self-contained HTML
file: images inlined as base64, no script, no URL. It reads only a sweep's
tables (:class:`~lbsim.report.sweep_charts.SweepLike`), never the engine.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from functools import partial
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from lbsim.analysis.metrics import SWEEP_METRICS
from lbsim.report import write_page
from lbsim.report.html import BASE_CSS
from lbsim.report.sweep_charts import (
    SweepLike,
    format_value,
    load_curve,
    metric_title,
    metric_vs_parameter,
    sweep_figures,
)

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
        table.add_column(metric_title(column), justify="right" if numeric else "left")
    for record in wide.itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in record))
    return table


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
    ) + (
        "; where a t-interval of a quantity that cannot be negative would reach below "
        "zero, a BCa bootstrap (10 or more replications) or the t-interval clipped at zero"
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
    if int(meta.get("replications") or 0) < 2:
        parts.append(
            '<p class="note">One replication: each value is that run\'s, with no confidence '
            "interval (run with more replications for one; the requests of one run are "
            "correlated, so they cannot give an honest interval).</p>"
        )
    else:
        parts.append(
            f'<p class="note">Each value is the mean over replications with a {level:g}% '
            f"confidence interval ({method}). Intervals are never computed from the pooled "
            "requests of one run: the latencies of successive requests in a queue are "
            "correlated, so such an interval would be much too narrow.</p>"
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
        wide = wide.rename(columns={m: metric_title(m) for m in metrics})
        parts.append("<h2>Results</h2>")
        parts.append(_html_table(wide, {metric_title(m) for m in metrics}))
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
