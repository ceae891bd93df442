"""Bad layer-7 input through the CLI: file:line:col, field path, message, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli_errors import validate

HEAD = """\
name: l7
duration: 1m
clients:
  arrivals: {process: poisson, rate: 5/s}
  service: {dist: exponential, mean: 10ms}
"""
SERVERS = """\
servers:
  - {name: api, count: 2}
  - {name: static, count: 1}
"""


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            HEAD + SERVERS + "balancer:\n  routes:\n    - {pool: apii}\n",
            "s.yaml:11:8: balancer.routes.0.pool",
            "unknown pool 'apii'; did you mean 'api'?",
        ),
        (
            HEAD + SERVERS + "balancer:\n  routes:\n    - {pool: api}\n    - {pool: static}\n",
            "s.yaml:11:7: balancer.routes.0:",
            "matches every request, so the routes after it are never reached",
        ),
        (
            HEAD
            + SERVERS
            + "balancer:\n  routes:\n    - {match: {path_prefix: /}, pool: api}\n"
            + "    - {pool: static}\n",
            "s.yaml:11:7: balancer.routes.0:",
            "overlapping catch-alls",
        ),
        (
            HEAD.replace(
                "mean: 10ms}",
                "mean: 10ms}\n  mix:\n    - {name: a, share: 0.5}\n    - {name: b, share: 0.4}",
            )
            + SERVERS,
            "clients.mix:",
            "shares must sum to 1, not 0.9",
        ),
        (
            HEAD
            + SERVERS
            + "balancer:\n  routes:\n    - {match: {path_prefix: /api}, pool: api}\n",
            "balancer.routes",
            "give a default route",
        ),
        (
            HEAD
            + SERVERS
            + "balancer:\n  layer: 4\n  routes:\n"
            + "    - {match: {path_prefix: /api}, pool: api}\n    - {pool: static}\n",
            "balancer.routes.0.match",
            "cannot see the path",
        ),
        (
            HEAD + SERVERS + "pools:\n  - name: web\n    versions:\n"
            "      - {name: a, servers: [api], weight: 70}\n"
            "      - {name: b, servers: [static], weight: 20}\n",
            "pools.0",
            "version weights must sum to 100, not 90",
        ),
    ],
)
def test_bad_layer7_input(tmp_path: Path, text: str, where: str, message: str) -> None:
    code, err = validate(tmp_path, text)
    assert code == 2
    assert where in err and message in err
