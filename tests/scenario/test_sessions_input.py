"""Bad session input through the CLI: file:line: field: message, exit 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lbsim.cli import app

BASE = """\
name: s
duration: 1m
clients:
  arrivals: {process: poisson, rate: 5/s}
  service: {dist: exponential, mean: 100ms}
  sessions: {requests: 5, think: 1s}
servers:
  - {name: web, count: 2}
"""

runner = CliRunner()


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stderr


def test_sessions_with_cookie_and_store_validate(tmp_path: Path) -> None:
    text = BASE + (
        "balancer: {algorithm: least_connections, sticky: {cookie: SERVERID}}\n"
        "session_store: {workers: 2, service: {dist: exponential, mean: 2ms}}\n"
        "events:\n  - {at: 10s, target: store, action: crash, for: 5s}\n"
    )
    assert validate(tmp_path, text)[0] == 0


def test_source_ip_with_an_algorithm_that_ignores_the_address(tmp_path: Path) -> None:
    code, err = validate(
        tmp_path, BASE + "balancer:\n  algorithm: round_robin\n  sticky: source_ip\n"
    )
    assert code == 2
    assert "s.yaml:9:" in err and "balancer" in err
    assert "sticky: source_ip needs a hashing algorithm" in err and "round_robin" in err


def test_a_cookie_without_sessions(tmp_path: Path) -> None:
    text = BASE.replace("  sessions: {requests: 5, think: 1s}\n", "")
    code, err = validate(tmp_path, text + "balancer: {sticky: {cookie: SERVERID}}\n")
    assert code == 2
    assert "s.yaml:8:" in err and "needs clients.sessions" in err


def test_the_store_cannot_be_drained(tmp_path: Path) -> None:
    text = BASE + (
        "session_store: {service: {dist: exponential, mean: 2ms}}\n"
        "events:\n  - {at: 10s, target: store, action: drain}\n"
    )
    code, err = validate(tmp_path, text)
    assert code == 2
    assert "s.yaml:10:" in err and "can only crash" in err


def test_sessions_ride_keepalive_connections_not_websockets(tmp_path: Path) -> None:
    keepalive = BASE.replace(
        "  sessions: {requests: 5, think: 1s}\n",
        "  sessions: {requests: 5, think: 1s}\n  connections: {keepalive: {requests: 10}}\n",
    )
    assert validate(tmp_path, keepalive)[0] == 0
    websocket = BASE.replace(
        "  sessions: {requests: 5, think: 1s}\n",
        "  sessions: {requests: 5, think: 1s}\n"
        "  connections: {websocket: {duration: 10s, message_rate: 1/s}}\n",
    )
    code, err = validate(tmp_path, websocket)
    assert code == 2 and "s.yaml:3:1: clients: `sessions` ride keep-alive connections" in err


def test_a_cookie_at_layer_4_cannot_be_read(tmp_path: Path) -> None:
    for balancer in (
        "{layer: 4, sticky: {cookie: SID}}",
        "{tls: {mode: passthrough}, sticky: {cookie: SID}}",
    ):
        code, err = validate(tmp_path, BASE + f"balancer: {balancer}\n")
        assert code == 2
        assert "s.yaml:9:" in err and "sticky: {cookie: ...} needs layer 7" in err
