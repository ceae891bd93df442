"""Odd command-line arguments (issue 15 §7): clear errors, exit 2, before
any work starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lbsim.cli import app

runner = CliRunner()
FILE = "scenarios/algorithms.yaml"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["sweep", FILE, "--dask", "nonsense"], "--dask 'nonsense': expected 'local' or"),
        (["sweep", FILE, "--dask", "tcp://"], "expected 'local' or a scheduler address"),
        (["run", FILE, "--seed", "9" * 5000], "--seed"),
        (["run", FILE, "--seed", "9" * 30], "seed: a 30-digit integer is too large"),
        (["validate", FILE, "--set", "seed=" + "9" * 401], "a 401-digit integer is too large"),
        (["validate", FILE, "--set", "seed=!!python/name:os.system"], "is not allowed"),
        (["sweep", FILE, "--grid", "seed=" + "9" * 401], "a 401-digit integer is too large"),
        (["sweep", FILE, "--grid", "seed=" + "9" * 5000], "(5000 characters)"),
    ],
)
def test_odd_arguments_are_clear_errors(args: list[str], expected: str) -> None:
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2, result.output[-500:]
    assert expected in result.stderr + result.output
