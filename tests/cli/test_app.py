"""The command line's shape: every command registered, and the light paths
(``--version``, ``--help``) not importing the heavy libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from lbsim._version import __version__
from lbsim.cli import app

COMMANDS = [
    "run",
    "validate",
    "schema",
    "algorithms",
    "sweep",
    "report",
    "diff",
    "baseline",
    "check",
]
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "matplotlib", "scipy", "simpy", "pyarrow")

PROBE = """
import sys
from lbsim.cli import main
sys.argv = ["lbsim", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(sorted({m.split(".")[0] for m in sys.modules} & set(%r)))
"""


def _imported(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_version_imports_no_heavy_library() -> None:
    output = _imported("--version")
    assert output.splitlines() == [f"lbsim {__version__}", "[]"]


def test_help_imports_no_heavy_library_and_lists_every_command() -> None:
    output = _imported("--help")
    assert output.splitlines()[-1] == "[]"
    listed = [line.split()[1] for line in output.splitlines() if line.startswith("│ ")]
    assert [name for name in listed if name in COMMANDS] == COMMANDS


def test_a_command_still_imports_what_it_needs() -> None:
    # the control for the two tests above: the probe does see a lazy import
    # (``report`` reads a saved run with pandas; ``validate`` no longer needs it)
    assert "pandas" in _imported("report", str(ROOT / "no-such-run")).splitlines()[-1]


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output
