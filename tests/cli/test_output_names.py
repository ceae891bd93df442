"""Output names derived from run.json never leave the output folder
(issue 15 §4): ``lbsim baseline`` names its file after the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbsim.cli import app

TINY = """\
name: tiny
duration: 1m
clients:
  arrivals: {rate: 2/s}
  service: {dist: exponential, mean: 100ms}
servers: [{name: web}]
"""
runner = CliRunner()


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/abs", "..", "a/b"])
def test_a_run_named_like_a_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(TINY)
    assert runner.invoke(app, ["run", "s.yaml", "-q", "-o", "run", "--no-plots"]).exit_code == 0
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    (tmp_path / "run" / "run.json").write_text(json.dumps({**meta, "name": name}))
    result = runner.invoke(app, ["baseline", "run"])
    assert result.exit_code == 2, result.output
    assert "is not a scenario name" in result.stderr
    assert not (tmp_path / "baselines").exists() and not (tmp_path.parent / "escaped.json").exists()
