"""The names ``lbsim check`` and ``lbsim baseline`` import, gathered in one place.

The gate itself is :mod:`lbsim.gate.baseline` (reading runs, writing and
reading baselines), :mod:`lbsim.gate.limits` and :mod:`lbsim.gate.compare`
(the verdict); its terminal table, Markdown and JUnit outputs are in
:mod:`lbsim.report.ci`. This module only re-exports them for the CLI (an
``ignore_imports`` entry in pyproject lets it import upwards) until the CLI
imports them from where they live.
"""

from lbsim.gate.baseline import CheckError, read_baseline, read_run, write_baseline
from lbsim.gate.compare import compare
from lbsim.gate.limits import parse_limits
from lbsim.report.ci import comparison_table, junit_xml, markdown, verdict_line, write_text

__all__ = [
    "CheckError",
    "compare",
    "comparison_table",
    "junit_xml",
    "markdown",
    "parse_limits",
    "read_baseline",
    "read_run",
    "verdict_line",
    "write_baseline",
    "write_text",
]
