"""Every class of bad input, through the CLI: message, line, exit status 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbsim.cli import app

GOOD = """\
name: ok
duration: 10m
clients:
  arrivals: {process: poisson, rate: 5/s}
  service: {dist: exponential, mean: 100ms}
servers:
  - {name: web, count: 2, workers: 1}
"""

runner = CliRunner()


def validate(tmp_path: Path, text: str | bytes, *args: str) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = runner.invoke(app, ["validate", str(path), *args])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stderr


def test_good_file_validates(tmp_path: Path) -> None:
    code, _ = validate(tmp_path, GOOD)
    assert code == 0


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (
            GOOD.replace("workers: 1", "wrokers: 1"),
            7,
            "unknown key 'wrokers'; did you mean 'workers'?",
        ),
        (
            GOOD.replace("count: 2", "count: many"),
            7,
            "servers.0.count: Input should be a valid integer",
        ),
        (
            GOOD.replace("rate: 5/s", "rate: 0/s"),
            4,
            "clients.arrivals.rate: Input should be greater than 0",
        ),
        (
            GOOD.replace("rate: 5/s", "rate: -5/s"),
            4,
            "clients.arrivals.rate: Input should be greater than 0",
        ),
        (
            GOOD.replace("duration: 10m", "duration: 10 minutes"),
            2,
            "malformed duration '10 minutes'",
        ),
        (GOOD.replace("rate: 5/s", "rate: fast"), 4, "malformed rate 'fast'"),
        (GOOD + "balancer: {algorithm: least_conection}\n", 8, "did you mean 'least_connections'?"),
        (
            GOOD + "compare:\n  balancer.algoritm: [random]\n",
            9,
            "compare.balancer.algoritm: no such field",
        ),
        (GOOD.replace("servers:", "servers: [\n"), 8, "YAML syntax error"),
        (
            GOOD.replace("dist: exponential", "dist: expo"),
            5,
            "unknown dist 'expo'; did you mean 'exponential'?",
        ),
        (GOOD + "balancer: {algorithm: {name: power_of_two, choices: 1}}\n", 8, "choices"),
        (GOOD + "compare:\n  balancer.algorithm: [random, nope]\n", 9, "unknown algorithm 'nope'"),
        (GOOD + "warmup: 1h\n", 8, "warmup (3600s) must be shorter than duration (600s)"),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "zero-rate",
        "negative-rate",
        "bad-duration",
        "bad-rate",
        "unknown-algorithm",
        "bad-compare-path",
        "yaml-syntax",
        "unknown-dist",
        "bad-algorithm-param",
        "unknown-algorithm-in-compare",
        "cross-field",
    ],
)
def test_bad_input(tmp_path: Path, text: str, line: int, expected: str) -> None:
    code, stderr = validate(tmp_path, text)
    assert code == 2
    assert expected in stderr
    assert f"s.yaml:{line}:" in stderr


def test_unknown_algorithm_lists_the_known_ones(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD + "balancer: {algorithm: magic}\n")
    assert code == 2
    for name in ("round_robin", "least_connections", "power_of_two", "ip_hash"):
        assert name in stderr


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("workers: 1", "wrokers: 1").replace("rate: 5/s", "rate: 0/s")
    code, stderr = validate(tmp_path, text)
    assert code == 2
    assert "s.yaml:7:" in stderr and "s.yaml:4:" in stderr


def test_empty_file(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, "")
    assert code == 2
    assert "empty" in stderr


def test_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml: no such file" in result.stderr


def test_file_over_one_megabyte(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD + "#" * 1_100_000 + "\n")
    assert code == 2
    assert "limit is 1 MB" in stderr


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    code, stderr = validate(tmp_path, "\n".join(lines) + "\n")
    assert code == 2
    assert "alias bomb" in stderr


def test_duplicate_key(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD + "duration: 5m\n")
    assert code == 2
    assert "s.yaml:8:" in stderr and "duplicate key 'duration'" in stderr


def test_bad_set_override(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD, "--set", "clients.arivals.rate=3")
    assert code == 2
    assert "--set: clients.arivals.rate: no such field; did you mean 'arrivals'?" in stderr
    code, stderr = validate(tmp_path, GOOD, "--set", "seed=-1")
    assert code == 2
    assert "--set: seed: Input should be greater than or equal to 0" in stderr


def test_run_reports_errors_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(GOOD.replace("workers: 1", "wrokers: 1"))
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "s.yaml:7:" in result.stderr
    assert not (tmp_path / "out").exists()
