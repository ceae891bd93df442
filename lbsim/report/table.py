"""The summary table: variants side by side, best value per column marked.

Both the terminal table (:func:`summary_table`, rich) and the HTML report
read the columns of ``Result.summary`` through the metric catalogue
(:func:`lbsim.analysis.metrics.describe`): each column's heading, display
unit, population and which direction is better; best values come from
:func:`lbsim.analysis.best.mark`. Columns it does not know are shown as
plain numbers and never marked, so new summary columns appear without
breaking anything.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from io import StringIO
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from lbsim.analysis.best import Z_LIMIT, Marks, mark
from lbsim.analysis.metrics import (
    HEADLINE_METRICS,
    POOL_METRICS,
    POPULATION_LEGEND,
    TERMINAL_METRICS,
    Metric,
    describe,
    scenario_metrics,
    unranked_metrics,
)
from lbsim.analysis.pools import has_pool_table, pool_groups, pool_table, sampled_note
from lbsim.status import STATUSES

if TYPE_CHECKING:
    from lbsim.report.plots.common import ResultLike

#: Marker appended to the best value of a column in the terminal.
BEST_MARK = "*"
#: Marker of a value that would be best but belongs to a variant failing more.
FLAG_MARK = "†"


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


#: Below this magnitude a number reads ``<0.0001`` (an LB queue of 0.000000729).
TINY = 1e-4


def format_number(value: object) -> str:
    """Three significant digits, thousands separated, never in exponent form;
    a magnitude below :data:`TINY` but not 0 reads ``<0.0001`` (``>-0.0001``)."""
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
    if abs(x) < TINY:
        return f"<{TINY:f}".rstrip("0") if x > 0 else f">-{TINY:f}".rstrip("0")
    if abs(x) >= 100:
        return f"{x:,.0f}"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    text = f"{x:.{decimals}f}"
    if float(text) != 0 and abs(float(text)) >= 100:  # rounded up into the next decade
        return f"{float(text):,.0f}"
    return text


#: Display units of plain numbers that count things: whole values shown whole
#: (35 sessions lost, 8 instances at peak: not 35.0 or 8.00).
COUNT_LABELS = frozenset({"", "req", "sess", "conn", "inst"})


def format_cell(spec: Metric, value: object) -> str:
    """``value`` in the column's display unit (no unit suffix); a whole
    count (:data:`COUNT_LABELS`) without decimals."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if spec.quantity == "number" and spec.label in COUNT_LABELS and x.is_integer():
        return f"{x:,.0f}"
    return format_number(x * spec.scale)


def terminal_columns(
    summary: pd.DataFrame, scenario: Mapping[str, Any] | None = None
) -> tuple[list[str], list[str]]:
    """(required, optional) columns of the terminal table.

    Required: the headline (:data:`HEADLINE_METRICS`) and what the scenario
    is about (:func:`scenario_metrics`); never dropped. Optional, shown while
    they fit: error kinds that occurred, then :data:`TERMINAL_METRICS` (those
    with a value in some row).
    """
    about = scenario_metrics(scenario or {})
    required = [c for c in dict.fromkeys([*HEADLINE_METRICS, *about]) if c in summary]
    kinds = [f"{s}_rate" for s in STATUSES[1:]]
    occurred = [k for k in kinds if k in summary and (summary[k].fillna(0) > 0).any()]
    shown = metric_columns(summary)  # not those empty in every row
    optional = [c for c in [*occurred, *TERMINAL_METRICS] if c in shown and c not in required]
    return required, list(dict.fromkeys(optional))


def summary_table(
    summary: pd.DataFrame, width: int = 100, scenario: Mapping[str, Any] | None = None
) -> Group:
    """Variants as rows, metrics as columns, best per column marked, in ``width``.

    The required columns (:func:`terminal_columns`) are always shown: when
    they do not fit beside the variant names, the table continues below,
    the variant column repeated. Optional ones fill what room is left.
    Variant names are shown whole (wrapped if very long, never cut). The
    best value of a column (:func:`lbsim.analysis.best.mark`) is bold and
    followed by ``*``; a value that would be best but belongs to a variant
    failing more requests beyond noise gets :data:`FLAG_MARK` and a footnote.
    Under each heading: the unit and the population (``ok``/``all``...).
    """
    required, optional = terminal_columns(summary, scenario)
    unranked = unranked_metrics(scenario or {})
    marks = mark(summary, [*required, *optional], unranked)
    variants = [str(v) for v in summary["variant"]] if "variant" in summary else []
    longest = max([len("variant"), *(len(v) for v in variants)])  # the heading stays whole
    name_width = longest  # whole names on one line, unless the headline cannot fit beside them

    def fits(columns: list[str]) -> bool:
        return _rendered_width(_build(summary, columns, marks, name_width)) <= width

    if not fits(required):
        name_width = min(longest, max(20, width // 3))
    parts: list[list[str]] = [[]]

    for column in required:
        if parts[-1] and not fits([*parts[-1], column]):
            parts.append([])
        parts[-1].append(column)
    for column in optional:
        if fits([*parts[-1], column]):
            parts[-1].append(column)
    tables = [_build(summary, columns, marks, name_width) for columns in parts]
    shown = [c for columns in parts for c in columns]
    notes = footnotes(summary, shown, marks, unranked)
    return Group(*tables, Text("\n".join(notes), style="dim"))


def footnotes(
    summary: pd.DataFrame, columns: Sequence[str], marks: Marks, unranked: Collection[str] = ()
) -> list[str]:
    """The legend of a summary table (terminal and HTML): the best and flag
    marks, the columns left unranked, and what each population tag under a
    heading covers."""
    lines = [f"{BEST_MARK} best in column"]
    if marks.failing_more and marks.reference is not None:
        names = summary["variant"].astype(str).tolist()
        errors = summary["error_rate"].tolist()
        ref = marks.reference
        worse = "; ".join(
            f"{names[i]} ({format_number(100 * errors[i])}%)" for i in sorted(marks.failing_more)
        )
        flags = any(marks.flagged.get(c) for c in columns)
        marked = any(marks.best.get(c, set()) & marks.failing_more for c in columns)
        lead = "best in error shares alone" if marked else "never marked best"
        lines[0] += (
            ", among variants whose error rate is not worse beyond noise (error shares: among all)"
        )
        lines.append(
            (f"{FLAG_MARK} would be best, but " if flags else f"{lead}: ")
            + f"fails more requests than {names[ref]} ({format_number(100 * errors[ref])}%) "
            f"beyond noise (z > {Z_LIMIT:g}): {worse}"
        )
    if "load_imbalance" in unranked and "load_imbalance" in columns:
        lines.append(
            "load imbalance not ranked: the servers differ (or pools split the traffic), "
            "so a fair split is uneven"
        )
    tags = dict.fromkeys(describe(c).covers for c in columns if describe(c).covers)
    lines += [f"{tag}: {POPULATION_LEGEND[tag]}" for tag in tags]
    return lines


def _build(
    summary: pd.DataFrame,
    columns: Sequence[str],
    marks: Marks,
    name_width: int,
    lead: tuple[str, Sequence[str], int] | None = None,
) -> Table:
    """The rich table of ``columns``, rows named by variant; ``lead`` (heading,
    per-row text, width) adds a first column, and a rule before each row whose
    text is not empty (the start of a group)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    variants = [str(v) for v in summary["variant"]] if "variant" in summary else []
    if lead is not None:
        table.add_column(lead[0], overflow="fold", min_width=lead[2], max_width=lead[2])
    table.add_column("variant", overflow="fold", min_width=name_width, max_width=name_width)
    specs = [describe(c) for c in columns]
    for spec in specs:
        heading = "\n".join([spec.short, spec.unit, spec.covers])
        table.add_column(Text(heading, justify="right"), justify="right", no_wrap=True)
    for row in range(len(summary)):
        cells: list[Text] = [Text(variants[row] if variants else str(row))]
        if lead is not None:
            cells.insert(0, Text(lead[1][row]))
        for spec in specs:
            text = format_cell(spec, summary[spec.name].iloc[row])
            if row in marks.best.get(spec.name, ()):
                cells.append(Text(text + BEST_MARK, style="bold"))
            elif row in marks.flagged.get(spec.name, ()):
                cells.append(Text(text + FLAG_MARK))
            else:
                cells.append(Text(text + " "))
        table.add_row(
            *cells, end_section=row + 1 < len(summary) and bool(lead and lead[1][row + 1])
        )
    return table


def pools_table(result: ResultLike, width: int = 100) -> Group | None:
    """Per-pool and per-version numbers (:func:`lbsim.analysis.pools.pool_table`)
    as one table in ``width``: a group of rows (one per variant) per pool and
    per version, the best of each group marked; None when the run has one
    pool without versions (the summary says it all)."""
    if not has_pool_table(result.requests, result.meta):
        return None
    table = pool_table(result.requests, result.timeseries, result.meta)
    groups = pool_groups(table, result.meta)
    if not groups:
        return None
    frame = pd.concat([rows for _, rows in groups], ignore_index=True)
    names = [f"{pool}/{version}" if version else pool for pool, version in
             zip(frame["pool"], frame["version"], strict=True)]  # fmt: skip
    labels = [name if i == 0 or names[i - 1] != name else "" for i, name in enumerate(names)]
    best: dict[str, set[int]] = {c: set() for c in POOL_METRICS}
    flagged: dict[str, set[int]] = {c: set() for c in POOL_METRICS}
    start = 0
    for _, rows in groups:
        marks = mark(rows, POOL_METRICS)
        for column in POOL_METRICS:
            best[column] |= {start + i for i in marks.best[column]}
            flagged[column] |= {start + i for i in marks.flagged[column]}
        start += len(rows)
    marks = Marks(best, flagged)
    longest = max(len(str(v)) for v in frame["variant"])
    lead_width = min(max(len(n) for n in names), max(8, width // 6))
    name_width = longest
    while (
        name_width > 12
        and _rendered_width(
            _build(frame, POOL_METRICS, marks, name_width, ("pool", labels, lead_width))
        )
        > width
    ):
        name_width -= 2
    built = _build(frame, POOL_METRICS, marks, name_width, ("pool", labels, lead_width))
    note = "pool/version: the requests a route sent there; " + POOLS_TERMINAL_NOTE
    note += sampled_note(result.meta)
    return Group(Text("Pools and versions", style="bold"), built, Text(note, style="dim"))


#: The legend under the terminal's pool table.
POOLS_TERMINAL_NOTE = (
    "share of the variant's requests; util: its servers' busy workers, sampled; "
    f"{BEST_MARK} best of the pool (version)"
)


def _rendered_width(table: Table) -> int:
    console = Console(width=1000, file=StringIO(), color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(table, crop=False)
    return max((len(line.rstrip()) for line in capture.get().splitlines()), default=0)
