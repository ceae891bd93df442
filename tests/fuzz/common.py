"""What every fuzz test shares: the bundled scenarios, validating a text
in-process and the one thing asserted of any outcome.

Any input must end in exit 0, or in exit 2 with messages that name the file
and the line and column of the problem (the few whole-file problems name the
file only: its size, its type, a plan out of reach), never a traceback, a
hang or another exit status.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from lbsim.cli import app

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").rglob("*.yaml"))
SECONDS = 10.0  # a case slower than this counts as a hang
# whole-file problems, which have no line to point at
WHOLE_FILE = (
    "--force",
    "variants; the limit is",
    "the limit is 1 MB",
    "larger than 1 MB",
    "not a regular file",
    "not UTF-8 text",
    "the file is empty",
    "more problems not shown",
)

runner = CliRunner()


def fuzz_settings(cases: int) -> settings:
    """Derandomized (the same cases on every run) and without a database;
    ``LBSIM_FUZZ_SCALE=10`` runs ten times the cases, ``LBSIM_FUZZ_RANDOM=1``
    new ones each run (to explore, not in CI)."""
    return settings(
        max_examples=cases * int(os.environ.get("LBSIM_FUZZ_SCALE", "1")),
        derandomize=not os.environ.get("LBSIM_FUZZ_RANDOM"),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def check_outcome(path: Path, args: tuple[str, ...] = ()) -> int:
    """Validate ``path`` in-process; assert the outcome is one of the two
    allowed; return the exit code."""
    started = time.perf_counter()
    result = runner.invoke(app, ["validate", str(path), *args])
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS, f"validate took {elapsed:.1f} s"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"crashed: {result.exception!r}") from result.exception
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output + result.stderr
    if result.exit_code == 2:
        assert_located(result.stderr, str(path))
    return result.exit_code


def assert_located(stderr: str, source: str) -> None:
    """Every message names ``source`` (or the option it came from) and,
    unless a whole-file problem, its line and column."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "exit 2 without a message"
    located = re.compile(rf"^{re.escape(source)}:\d+:\d+: \S")
    for line in lines:
        if line.startswith(("--set", "--grid")):
            continue
        assert line.startswith(f"{source}:"), line
        if not any(text in line for text in WHOLE_FILE):
            assert located.match(line), line
