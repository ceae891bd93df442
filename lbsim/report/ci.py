"""CI outputs of the gate: the terminal table, a Markdown summary, JUnit XML.

Everything here only presents a :class:`~lbsim.gate.compare.Comparison`:
values in display units (ms, %, /s), changes in the limit's terms.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text

from lbsim._version import __version__
from lbsim.analysis.metrics import METRICS, Metric
from lbsim.gate.compare import CONFIDENCE, Comparison, Row
from lbsim.io import atomic_path

#: In every JUnit and Markdown file written here (so they are the only files replaced).
SIGNATURE = b"lbsim check"


def _scaled(info: Metric, value: float) -> tuple[float, str]:
    """A value of the metric in display units (ms, %, req/s...)."""
    if info.quantity == "seconds":
        return value * 1e3, "ms"
    if info.quantity == "fraction":
        return value * 100, "%"
    if info.quantity == "rate":
        return value, "/s"
    return value, ""


def _number(value: float, sign: bool = False) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return ("+∞" if sign else "∞") if value > 0 else "-∞"
    magnitude = abs(value)
    if magnitude == 0:
        text = "0"
    elif magnitude >= 100:
        text = f"{magnitude:,.0f}"
    else:
        decimals = max(0, 2 - math.floor(math.log10(magnitude)))
        text = f"{magnitude:.{decimals}f}"
    if value < 0:
        return "-" + text
    return ("+" if sign and value > 0 else "") + text


def format_value(metric_name: str, value: float) -> str:
    """``123ms``, ``0.05%``, ``680/s``, ``2.04``."""
    scaled, unit = _scaled(METRICS[metric_name], value)
    return _number(scaled) + ("" if math.isnan(value) else unit)


def format_change(row: Row, value: float | None = None) -> str:
    """A change in the limit's terms: ``+3.2%`` (relative), ``+12ms``, ``+0.1pp``."""
    value = row.change if value is None else value
    if math.isnan(value):
        return "-"
    if row.limit.relative:
        return _number(value * 100, sign=True) + "%"
    scaled, unit = _scaled(METRICS[row.metric], value)
    return _number(scaled, sign=True) + ("pp" if unit == "%" else unit)


def format_interval(row: Row) -> str:
    if math.isnan(row.low):
        return "-"
    return f"[{format_change(row, row.low)}, {format_change(row, row.high)}]"


def format_absolute(row: Row) -> str:
    """The absolute change in display units: ``+12ms``, ``+0.05pp``, ``-3/s``."""
    scaled, unit = _scaled(METRICS[row.metric], row.absolute)
    return _number(scaled, sign=True) + ("pp" if unit == "%" else unit)


def format_relative(row: Row) -> str:
    return _number(row.relative * 100, sign=True) + "%"


_VERDICT_TEXT = {"ok": "ok", "noise": "ok (noise)", "regression": "REGRESSION"}


def verdict_line(comparison: Comparison) -> str:
    checks = len(comparison.rows)
    failed = comparison.regressions
    if not failed:
        return f"passed: {checks} check(s) within their limits"
    moved = ", ".join(f"{r.variant} {r.metric} {format_change(r)}" for r in failed)
    return f"FAILED: {len(failed)} of {checks} check(s) past their limit: {moved}"


def comparison_table(comparison: Comparison) -> Table:
    """The terminal table: one row per variant and metric, regressions in bold red."""
    interval = bool(comparison.replications)
    caption = (
        f"means of {comparison.replications} replications; interval: {CONFIDENCE:.0%} t on "
        "the paired changes"
        if interval
        else "single runs: no interval (record and run with --replications N for one)"
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, caption=caption,
                  caption_justify="left")  # fmt: skip
    table.add_column("variant", no_wrap=True)
    table.add_column("metric", no_wrap=True)
    for heading in ("baseline", "run", "change", "relative"):
        table.add_column(heading, justify="right", no_wrap=True)
    if interval:
        table.add_column(f"{CONFIDENCE:.0%} interval", justify="right", no_wrap=True)
    table.add_column("limit", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for row in comparison.rows:
        style = {"regression": "bold red", "noise": "yellow", "ok": ""}[row.verdict]
        cells: list[str | Text] = [
            row.variant,
            row.metric,
            format_value(row.metric, row.baseline),
            format_value(row.metric, row.run),
            format_absolute(row),
            format_relative(row),
        ]
        if interval:
            cells.append(format_interval(row))
        cells += [row.limit.text, Text(_VERDICT_TEXT[row.verdict], style=style)]
        table.add_row(*cells)
    return table


def markdown(comparison: Comparison, baseline_path: str = "") -> str:
    """A Markdown summary, e.g. for ``$GITHUB_STEP_SUMMARY``."""
    icon = "✅" if comparison.passed else "❌"
    lines = [f"### {icon} lbsim check: {comparison.name}", "", verdict_line(comparison), ""]
    if baseline_path:
        lines += [f"Baseline: `{baseline_path}`", ""]
    lines += [f"- {note}" for note in comparison.notes]
    if comparison.notes:
        lines.append("")
    interval = bool(comparison.replications)
    header = ["variant", "metric", "baseline", "run", "change", "relative"]
    header += [f"{CONFIDENCE:.0%} interval"] if interval else []
    header += ["limit", "verdict"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in comparison.rows:
        verdict = _VERDICT_TEXT[row.verdict]
        cells = [
            row.variant,
            f"`{row.metric}`",
            format_value(row.metric, row.baseline),
            format_value(row.metric, row.run),
            format_absolute(row),
            format_relative(row),
            *([format_interval(row)] if interval else []),
            row.limit.text,
            f"**{verdict}**" if row.verdict == "regression" else verdict,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def junit_xml(comparison: Comparison, baseline_path: str = "") -> str:
    """JUnit XML: a test case per variant and metric, a failure per regression."""
    suite = ET.Element(
        "testsuite",
        name=f"lbsim check {comparison.name}",
        tests=str(len(comparison.rows)),
        failures=str(len(comparison.regressions)),
        errors="0",
        skipped="0",
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (("baseline", baseline_path), ("lbsim_version", __version__)):
        ET.SubElement(properties, "property", name=key, value=value)
    for index, note in enumerate(comparison.notes):
        ET.SubElement(properties, "property", name=f"note{index + 1}", value=note)
    for row in comparison.rows:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"lbsim.{comparison.name}.{row.variant}",
            name=row.metric,
            time="0",
        )
        detail = (
            f"{row.metric} of {row.variant}: baseline {format_value(row.metric, row.baseline)}, "
            f"run {format_value(row.metric, row.run)}, change {format_change(row)}"
            + (f" {CONFIDENCE:.0%} interval {format_interval(row)}" if row.replications else "")
            + f", limit {row.limit.text}"
        )
        if row.verdict == "regression":
            failure = ET.SubElement(case, "failure", message=detail, type="regression")
            failure.text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    root = ET.Element("testsuites", name="lbsim check")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (creating its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return path
