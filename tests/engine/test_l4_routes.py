"""Layer-4 routes: a listener that cannot see paths routes each connection by
the host its TLS ClientHello names (SNI), as HAProxy ``mode tcp`` with
``use_backend ... if { req.ssl_sni ... }`` and NGINX ``stream`` with
``ssl_preread`` + ``map $ssl_preread_server_name`` do; every request on the
connection follows it to the host picked when it opened. A client keeps one
connection per origin (host), so a request for another host never rides it.
WebSocket messages travel on their upgrade's connection, so they keep its
route whatever their own class would say.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lbsim.engine.records import Recorder
from lbsim.engine.workload import Workload, draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load

ROUTES = [{"match": {"host": "shop.example"}, "pool": "shop"}, {"pool": "web"}]
MIX = [
    {"name": "web", "share": 0.7, "path": "/", "host": "www.example"},
    {"name": "shop", "share": 0.3, "path": "/", "host": "shop.example"},
]


def scenario(connections: dict[str, Any], layer: int = 4) -> dict[str, Any]:
    """20 clients, 40 req/s for 60 s over two hosts and two pools of 3."""
    return {
        "name": "l4-routes",
        "seed": 11,
        "duration": 60.0,
        "clients": {
            "count": 20,
            "arrivals": {"process": "poisson", "rate": 40.0},
            "service": {"dist": "exponential", "mean": 0.01},
            "connections": connections,
            "mix": MIX,
        },
        "balancer": {"layer": layer, "algorithm": "round_robin", "routes": ROUTES},
        "servers": [{"name": "web", "count": 3, "workers": 2}, {"name": "shop", "count": 3}],
    }


def simulate(data: dict[str, Any]) -> tuple[Workload, Recorder]:
    variant = load(data=data).variants[0].scenario
    world = World(variant, draw_workload(variant))
    rec = world.run()
    assert rec.connections is not None
    return world.workload, rec


def test_layer_4_routes_each_connection_by_host_and_pins_its_requests() -> None:
    workload, rec = simulate(scenario({"keepalive": {"requests": 50}}))
    facts = rec.connections
    assert facts is not None
    of, host = facts["request_connection"], facts["host"]
    route, server = rec.columns["route"], rec.columns["server"]
    kinds = workload.request_class
    assert kinds is not None
    np.testing.assert_array_equal(route, np.where(kinds == 1, 0, 1))  # by host, first match
    # every request went to the host its connection was bound to, in its route's pool
    np.testing.assert_array_equal(server, host[of])
    assert set(server[route == 0].tolist()) == {3, 4, 5}
    assert set(server[route == 1].tolist()) == {0, 1, 2}
    # a connection carries one client's requests for one host only
    for c in np.unique(of):
        mine = of == c
        assert len(set(workload.client[mine].tolist())) == 1
        assert len(set(kinds[mine].tolist())) == 1
    # and reuse happened: 50 requests a connection when it is not idle
    assert len(facts["opened"]) < len(of) / 5


def test_the_algorithm_counts_each_routes_connections_apart() -> None:
    # Round robin per route over connections: each pool's connections are
    # dealt to its 3 servers in turn, so per pool the counts differ by <= 1.
    _, rec = simulate(scenario({"keepalive": {"requests": 20}}))
    facts = rec.connections
    assert facts is not None
    counts = np.bincount(facts["host"], minlength=6)
    for pool in (counts[:3], counts[3:]):
        assert pool.min() > 10 and pool.max() - pool.min() <= 1


def test_websocket_messages_keep_their_upgrades_route() -> None:
    # At layer 7 a WebSocket is tunnelled to the host its upgrade went to;
    # its messages have its class (drawn once per WebSocket), so its route.
    data = scenario({"websocket": {"duration": 5.0, "message_rate": 2.0}}, layer=7)
    data["clients"]["arrivals"] = {"process": "poisson", "rate": 4.0}
    workload, rec = simulate(data)
    assert workload.channel is not None and workload.request_class is not None
    facts = rec.connections
    assert facts is not None
    for channel in np.unique(workload.channel):
        mine = workload.channel == channel
        assert len(set(workload.request_class[mine].tolist())) == 1
        assert len(set(rec.columns["route"][mine].tolist())) == 1
    np.testing.assert_array_equal(rec.columns["server"], facts["host"][facts["request_connection"]])
    shop = workload.request_class[np.unique(workload.channel, return_index=True)[1]] == 1
    assert 0.2 < shop.mean() < 0.4  # 240 WebSockets at share 0.3: sd 0.03
