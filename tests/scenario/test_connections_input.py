"""Bad connection settings: the usual file:line:col error, exit status 2, no traceback."""

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
  connections:
    keepalive: {requests: 100, idle_timeout: 30s}
    streams: 1
balancer:
  layer: 4
  connections: {max_lifetime: 5m}
servers:
  - {name: web, count: 2, workers: 1}
"""


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stderr


def test_good_connections_validate(tmp_path: Path) -> None:
    code, _ = validate(tmp_path, GOOD)
    assert code == 0


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        ("    streams: 1", "    streams: 0", 8, "streams"),
        ("  layer: 4", "  layer: 5", 10, "layer"),
        ("{requests: 100,", "{requests: 0,", 7, "requests"),
        ("idle_timeout: 30s", "idle_timeout: soon", 7, "idle_timeout"),
        ("{max_lifetime: 5m}", "{max_lifetime: 5m, drain: 1s}", 11, "drain"),
        (
            "    streams: 1",
            "    websocket: {duration: 30m, message_rate: 1/s}",
            6,
            "either `websocket` or `keepalive`",
        ),
        (
            "  connections:\n    keepalive: {requests: 100, idle_timeout: 30s}\n    streams: 1\n",
            "",
            6,  # the balancer section (now line 6)
            "need clients.connections",
        ),
        (
            "    streams: 1",
            "    websocket: {duration: 30m}",
            8,
            "message_rate",
        ),
        ("    streams: 1", "    streams: 1\n  hedge: {after: 1s}", 3, "do not work with"),
    ],
    ids=[
        "no-streams",
        "bad-layer",
        "zero-requests",
        "bad-idle-timeout",
        "unknown-limit",
        "websocket-and-keepalive",
        "limits-without-connections",
        "websocket-without-rate",
        "hedge-with-connections",
    ],
)
def test_bad_connections(tmp_path: Path, old: str, new: str, line: int, expected: str) -> None:
    assert old in GOOD
    code, stderr = validate(tmp_path, GOOD.replace(old, new))
    assert code == 2
    assert expected in stderr
    assert f"s.yaml:{line}:" in stderr
