"""The summary table: variants side by side, best value per column marked.

Both the terminal table (:func:`summary_table`, rich) and the HTML report
read the columns of ``Result.summary`` through the metric catalogue
(:func:`lbsim.analysis.metrics.describe`): each column's heading, display
unit and which direction is better. Columns it does not know are shown as
plain numbers and never marked, so new summary columns appear without
breaking anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from io import StringIO

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lbsim.analysis.metrics import TERMINAL_METRICS, Better, Metric, describe

#: Marker appended to the best value of a column in the terminal.
BEST_MARK = "*"


def parameter_columns(summary: pd.DataFrame) -> list[str]:
    """The varied parameters: the columns between ``variant`` and ``requests``."""
    columns = list(summary.columns)
    if "variant" not in columns:
        return []
    start = columns.index("variant") + 1
    end = columns.index("requests") if "requests" in columns else start
    return columns[start:end]


def metric_columns(summary: pd.DataFrame) -> list[str]:
    """Numeric columns after the parameters, in the summary's order, except
    those empty in every row (e.g. session metrics of a run without sessions)."""
    skip = {"variant", *parameter_columns(summary)}
    return [
        c
        for c in summary.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(summary[c])
        and not pd.api.types.is_bool_dtype(summary[c])
        and not summary[c].isna().all()
    ]


def best_rows(values: Sequence[float] | pd.Series, better: Better) -> set[int]:
    """Positions of the best value(s); empty if no direction, or all equal."""
    if better is None:
        return set()
    array = np.asarray(pd.to_numeric(pd.Series(list(values)), errors="coerce"), dtype=float)
    finite = np.isfinite(array)
    if finite.sum() < 2:
        return set()
    target = np.nanmin(array[finite]) if better == "lower" else np.nanmax(array[finite])
    hits = {
        i for i in range(array.size) if finite[i] and math.isclose(array[i], target, rel_tol=1e-9)
    }
    return set() if len(hits) == int(finite.sum()) else hits


def format_number(value: object) -> str:
    """Three significant digits, thousands separated, never in exponent form."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    text = f"{x:.{decimals}f}"
    if float(text) != 0 and abs(float(text)) >= 100:  # rounded up into the next decade
        return f"{float(text):,.0f}"
    return text


def format_cell(spec: Metric, value: object) -> str:
    """``value`` in the column's display unit (no unit suffix)."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    return format_number(x * spec.scale)


def summary_table(summary: pd.DataFrame, width: int = 100) -> Table:
    """Variants as rows, key metrics as columns, best per column marked.

    The best value of each column (see :func:`describe`) is bold and
    followed by ``*``. Latencies are in ms, rates in %, throughput in req/s.
    Columns are dropped from the end of :data:`TERMINAL_METRICS` until the
    table fits in ``width`` terminal columns; variant names are never cut.
    """
    shown = metric_columns(summary)  # not those empty in every row
    columns = [c for c in TERMINAL_METRICS if c in shown]
    while True:
        table = _build(summary, columns)
        if len(columns) <= 1 or _rendered_width(table) <= width:
            return table
        columns = columns[:-1]


def _build(summary: pd.DataFrame, columns: Sequence[str]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        caption=f"{BEST_MARK} best in column · latencies of ok requests after warm-up",
        caption_justify="left",
    )
    variants = [str(v) for v in summary["variant"]] if "variant" in summary else []
    table.add_column("variant", no_wrap=True, overflow="fold", min_width=min(
        max((len(v) for v in variants), default=7), 40
    ))  # fmt: skip
    specs = [describe(c) for c in columns]
    marks = {spec.name: best_rows(summary[spec.name], spec.better) for spec in specs}
    for spec in specs:
        heading = f"{spec.short}\n{spec.unit}" if spec.unit else spec.short
        table.add_column(heading, justify="right", no_wrap=True)
    for row in range(len(summary)):
        cells: list[Text | str] = [variants[row] if variants else str(row)]
        for spec in specs:
            text = format_cell(spec, summary[spec.name].iloc[row])
            if row in marks[spec.name]:
                cells.append(Text(text + BEST_MARK, style="bold"))
            else:
                cells.append(Text(text + " "))
        table.add_row(*cells)
    return table


def _rendered_width(table: Table) -> int:
    console = Console(width=1000, file=StringIO(), color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(table, crop=False)
    # The caption wraps to the table, so the widest line is the table itself.
    return max((len(line.rstrip()) for line in capture.get().splitlines()), default=0)
