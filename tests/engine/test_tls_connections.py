"""TLS and the balancer CPU with a connection model: one handshake per connection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lbsim
from tests.conftest import scenario

# One client, one request every 10 ms (deterministic), each served in 1 ms:
# requests never overlap, so with HTTP/1.1 keep-alive (one stream) every
# request reuses the client's one open connection until its budget of 10
# requests is spent. 2 s → exactly 200 requests → exactly 20 connections,
# each opened by requests 0, 10, 20, ... (never idle: 10 ms ≪ 60 s).
KEEPALIVE: dict[str, Any] = {
    "duration": "2s",
    "warmup": 0,
    "clients.count": 1,
    "clients.arrivals": {"process": "deterministic", "rate": 100.0},
    "clients.service": {"dist": "deterministic", "value": 0.001},
    "clients.connections": {"keepalive": {"requests": 10}},
    "servers.0.count": 2,
    "balancer": {"cpu": {"workers": 1}, "tls": {"resumption": 0, "rtt": "5ms"}},
}
REQUEST, CONNECTION, FULL = 3e-5, 5e-6, 5e-4  # the documented defaults


def test_only_the_request_that_opens_a_connection_pays_its_handshake() -> None:
    result = lbsim.run(scenario(KEEPALIVE))
    requests = result.requests.sort_values("arrival")
    assert len(requests) == 200
    opened = np.arange(200) % 10 == 0
    assert np.array_equal(requests["handshake"].to_numpy() > 0, opened)
    cpu = np.where(opened, REQUEST + CONNECTION + FULL, REQUEST)
    assert np.allclose(requests["balancer_cpu"].to_numpy(), cpu)
    # the extra round trip too: only on new connections
    assert np.allclose(requests["latency_tls"].to_numpy(), np.where(opened, 0.005, 0.0))
    summary = result.summary.iloc[0]
    assert summary["connections_opened"] == 20
    assert summary["handshakes_per_s"] == pytest.approx(20 / 2)
    assert summary["balancer_cpu_handshake"] == pytest.approx(20 * FULL / 2)


def test_without_keepalive_reuse_every_request_pays() -> None:
    # a budget of one request per connection: the flat behaviour again
    data = scenario(KEEPALIVE, **{"clients.connections": {"keepalive": {"requests": 1}}})
    requests = lbsim.run(data).requests
    assert (requests["handshake"] > 0).all()
    assert np.allclose(requests["balancer_cpu"], REQUEST + CONNECTION + FULL)


def test_pinned_connections_refuse_pool_versions() -> None:
    data = scenario(
        KEEPALIVE,
        **{
            "balancer.layer": 4,
            "servers": [{"name": "a", "count": 1}, {"name": "b", "count": 1}],
            "pools": [
                {
                    "name": "api",
                    "versions": [
                        {"name": "stable", "servers": ["a"], "weight": 80},
                        {"name": "canary", "servers": ["b"], "weight": 20},
                    ],
                }
            ],
            "balancer.routes": [{"pool": "api"}],
        },
    )
    with pytest.raises(lbsim.ScenarioError, match=r"pinned connections .* pool versions"):
        lbsim.run(data)
