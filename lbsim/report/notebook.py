"""Jupyter helpers: HTML reprs and ``.plot`` accessors for results.

The analysis and runner layers may not import reporting, so, as pandas does
for its accessors, the report layer attaches itself to the result classes
when it is imported (:func:`register`; ``lbsim.run``, ``lbsim.sweep`` and
``lbsim.Result`` import it). Then::

    result.plot.cdf()          # the report's latency_cdf, as Axes
    sweep.plot.load_curve()    # the sweep report's load_curve, as Axes
    result.animate("random")   # lbsim.report.animate.animate

Every plot method calls the same function the report uses
(:data:`lbsim.report.plots.PLOTS`, :func:`lbsim.report.sweep_charts.load_curve`)
and returns the main Axes of its figure (the figure is ``ax.figure``), so
students can restyle it. In a live IPython session the figure is also
displayed, as ``DataFrame.plot`` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lbsim.analysis.best import best_rows
from lbsim.analysis.metrics import METRICS, SWEEP_METRICS, TERMINAL_METRICS, describe
from lbsim.analysis.result import Result
from lbsim.report import figure_bytes
from lbsim.report.animate import animate
from lbsim.report.html import summary_html
from lbsim.report.plots import (
    capacity_over_time,
    errors_over_time,
    health_over_time,
    latency_cdf,
    latency_over_time,
    queue_depth,
    server_load,
)
from lbsim.report.sweep_charts import SweepLike, format_value, load_curve
from lbsim.report.table import parameter_columns

# Scoped to .lbsim so a notebook's other tables keep their look.
_CSS = """<style>
.lbsim table { border-collapse: collapse; font-size: .85em; }
.lbsim th, .lbsim td { padding: .2em .5em; border-bottom: 1px solid #d1d9e0; white-space: nowrap; }
.lbsim td.num { text-align: right; font-variant-numeric: tabular-nums; }
.lbsim td.best { background: #dff3e4; font-weight: 700; }
.lbsim td.flagged { color: #59636e; }
.lbsim .unit { display: block; font-weight: 400; color: #59636e; }
.lbsim .note { color: #59636e; font-size: .85em; }
</style>"""


def _show(fig: Figure) -> Axes:
    """Display ``fig`` when IPython is live (as PNG); return its main (first) Axes."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with the notebooks extra
        pass
    else:
        shell = get_ipython()
        if shell is not None:
            png = shell.display_formatter.formatters["image/png"]
            try:
                png.lookup(fig)
            except KeyError:  # no inline backend: show figures as %matplotlib inline would
                png.for_type(Figure, figure_bytes)
            display(fig)
    return fig.axes[0]


class ResultPlots:
    """``result.plot``: the report's run plots, each returning its main Axes."""

    def __init__(self, result: Result) -> None:
        self._result = result

    def _draw(self, build: Callable[[Result], Figure]) -> Axes:
        return _show(build(self._result))

    def cdf(self) -> Axes:
        """Latency CDF per variant (the report's ``latency_cdf``)."""
        return self._draw(latency_cdf)

    def percentiles(self) -> Axes:
        """Latency percentiles over time (the report's ``latency_over_time``)."""
        return self._draw(latency_over_time)

    def queues(self) -> Axes:
        """Queue depth over time (the report's ``queue_depth``)."""
        return self._draw(queue_depth)

    def errors(self) -> Axes:
        """Failed requests over time by status (the report's ``errors_over_time``)."""
        return self._draw(errors_over_time)

    def health(self) -> Axes:
        """Servers the balancer believes healthy (the report's ``health_over_time``)."""
        return self._draw(health_over_time)

    def servers(self) -> Axes:
        """Requests and utilisation per server (the report's ``server_load``)."""
        return self._draw(server_load)

    def capacity(self) -> Axes:
        """Autoscaled instances over the demand (the report's ``capacity_over_time``)."""
        return self._draw(capacity_over_time)


class SweepPlots:
    """``sweep.plot``: the sweep report's charts, returning Axes."""

    def __init__(self, sweep: SweepLike) -> None:
        self._sweep = sweep

    def load_curve(self, metrics: Sequence[str] = ("latency_p50", "latency_p99")) -> Axes:
        """Latency against offered load with CI bands (the sweep report's ``load_curve``)."""
        meta = self._sweep.meta
        params = list(meta.get("grid_params") or [])
        return _show(load_curve(self._sweep.summary, metrics, params=params, meta=meta))


class _Accessor:
    """A descriptor building ``factory(instance)`` on attribute access (as pandas')."""

    def __init__(self, factory: Callable[[Any], object]) -> None:
        self._factory = factory

    def __get__(self, instance: object, owner: type) -> object:
        return self if instance is None else self._factory(instance)


def result_html(result: Result) -> str:
    """A compact summary for Jupyter: the terminal table's metrics
    (:data:`~lbsim.analysis.metrics.TERMINAL_METRICS`), best marked, units shown."""
    summary = result.summary
    params = parameter_columns(summary)
    metrics = [m for m in METRICS if m in TERMINAL_METRICS and m in summary]
    keep = ["variant", *params, "requests", *metrics]
    title = f"{result.meta.get('name', 'run')}: {len(summary)} variants, "
    title += f"{len(result.requests)} requests"
    table = summary_html(
        summary[[c for c in keep if c in summary]], scenario=result.meta.get("scenario")
    )
    return _wrap(title, table)


def sweep_html(sweep: SweepLike) -> str:
    """A compact sweep summary: one row per grid point and variant, the sweep
    report's metrics (:data:`~lbsim.analysis.metrics.SWEEP_METRICS`) as
    ``mean ± CI half-width``; the best mean among the variants of each point marked."""
    meta = sweep.meta
    title = (
        f"{meta.get('name', 'sweep')}: {meta.get('points')} points × "
        f"{len(meta.get('variants', []))} variants × {meta.get('replications')} replications"
    )
    summary = sweep.summary
    if summary.empty:
        return _wrap(title, '<p class="note">No summary.</p>')
    params = [p for p in meta.get("grid_params") or [] if p in summary]
    metrics = [m for m in SWEEP_METRICS if m in set(summary["metric"])]
    specs = [describe(m) for m in metrics]
    wide = summary.pivot_table(
        index=["point", "offered_load", *params, "variant"],
        columns="metric",
        values=["mean", "ci_low", "ci_high"],
        sort=False,
        observed=True,
    ).reset_index()
    head = ["point", "offered load", *params, "variant"]
    cells = [f'<th scope="col">{escape(h)}</th>' for h in head]
    for spec in specs:
        unit = f'<span class="unit">{escape(spec.unit)}</span>' if spec.unit else ""
        cells.append(
            f'<th scope="col" title="{escape(spec.name)}">{escape(spec.heading)}{unit}</th>'
        )
    rows = [f"<thead><tr>{''.join(cells)}</tr></thead>", "<tbody>"]
    for _, group in wide.groupby("point", sort=False):
        best = {s.name: best_rows(group[("mean", s.name)], s.better) for s in specs}
        for i in range(len(group)):
            record = group.iloc[i]
            variant = str(record[("variant", "")])
            keys = [record[("point", "")], f"{record[('offered_load', '')]:.3g}"]
            keys += [record[(p, "")] for p in params]
            row = [f"<td>{escape(str(k))}</td>" for k in keys]
            row.append(f'<th scope="row">{escape(variant)}</th>')
            for spec in specs:
                text = _interval(
                    spec.name, *(record[(k, spec.name)] for k in ("mean", "ci_low", "ci_high"))
                )
                mark = " best" if i in best[spec.name] else ""
                row.append(
                    f'<td data-col="{escape(spec.name)}" class="num{mark}">{escape(text)}</td>'
                )
            rows.append(f'<tr data-variant="{escape(variant)}">{"".join(row)}</tr>')
    rows.append("</tbody>")
    note = (
        f'<p class="note">Mean over replications ± half the {meta.get("confidence", 0.95):.0%} '
        "confidence interval; highlighted: best mean among the variants of a point.</p>"
    )
    return _wrap(title, f'<table class="summary">{"".join(rows)}</table>{note}')


def _interval(metric: str, mean: float, low: float, high: float) -> str:
    text = format_value(metric, mean)
    if math.isfinite(low) and math.isfinite(high):
        text += f" ± {format_value(metric, (high - low) / 2)}"
    return text


def _wrap(title: str, body: str) -> str:
    return f'{_CSS}<div class="lbsim"><p><b>{escape(title)}</b></p>{body}</div>'


def register_result(cls: type[Result]) -> None:
    """Attach the HTML repr, ``.plot`` and ``.animate`` to the run result class."""
    cls.html_renderer = result_html
    cls.plot = _Accessor(ResultPlots)  # type: ignore[attr-defined]
    cls.animate = animate  # type: ignore[attr-defined]


def register_sweep(cls: type) -> None:
    """Attach the HTML repr and ``.plot`` to the sweep result class
    (``lbsim.runner.sweep.SweepResult``: reporting may not import the runner,
    which runs the engine, so ``lbsim.sweep`` hands the class over)."""
    cls.html_renderer = sweep_html  # type: ignore[attr-defined]
    cls.plot = _Accessor(SweepPlots)  # type: ignore[attr-defined]


register_result(Result)
