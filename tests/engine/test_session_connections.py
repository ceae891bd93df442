"""Closed-loop sessions on keep-alive connections, and sessions with a
request mix over several routes (lbsim.engine.sessions with
lbsim.engine.connections): rules derived by hand from the module docstrings.

A user (client) keeps its connection between the requests of its session:
the think time is shorter than the idle timeout, so a request finds the
connection of the previous one idle and rides it, until the connection has
carried ``keepalive.requests``. At layer 7 each request is balanced (a cookie
pins the server); at layer 4 the connection pins it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lbsim.engine.records import OK, Recorder
from lbsim.engine.workload import Workload, draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load


def scenario(*, balancer: dict[str, Any] | None = None, **clients: Any) -> dict[str, Any]:
    """120 s of sessions of 12 requests, 1 s apart, from a population so
    large that no two sessions share a user (checked by :func:`simulate`)."""
    return {
        "name": "session-connections",
        "seed": 5,
        "duration": 120.0,
        "clients": {
            "count": 1_000_000,
            "arrivals": {"process": "poisson", "rate": 1.0},
            "service": {"dist": "exponential", "mean": 0.02},
            "sessions": {"requests": 12, "think": {"dist": "deterministic", "value": 1.0}},
            "connections": {"keepalive": {"requests": 1000}},
            **clients,
        },
        "balancer": {"algorithm": "round_robin", **(balancer or {})},
        "servers": [{"name": "web", "count": 3, "workers": 4}],
    }


def simulate(data: dict[str, Any]) -> tuple[Workload, Recorder]:
    variant = load(data=data).variants[0].scenario
    world = World(variant, draw_workload(variant))
    rec = world.run()
    workload = world.workload  # as realised: sent requests in arrival order
    assert rec.sessions is not None and rec.connections is not None
    sessions = len(np.unique(workload.session))
    assert len(np.unique(workload.client)) == sessions > 80  # one user per session
    return workload, rec


def _per_session(workload: Workload, values: np.ndarray) -> list[set[int]]:
    return [set(values[workload.session == s].tolist()) for s in np.unique(workload.session)]


def test_a_session_rides_its_users_connection_across_its_requests() -> None:
    workload, rec = simulate(scenario())
    of = rec.connections["request_connection"]  # type: ignore[index]
    assert (of >= 0).all()
    # one connection per session, opened by its first request only
    assert all(len(c) == 1 for c in _per_session(workload, of))
    assert len(rec.connections["opened"]) == len(np.unique(workload.session))  # type: ignore[index]
    first = np.zeros(len(workload), dtype=bool)
    first[np.unique(workload.session, return_index=True)[1]] = True
    np.testing.assert_array_equal(rec.connections["request_opened"], first)  # type: ignore[index]


def test_keepalive_requests_caps_what_a_sessions_connection_carries() -> None:
    # 5 requests per connection: a session that sent k requests used
    # ceil(k / 5) connections, requests 5j .. 5j+4 on the j-th.
    workload, rec = simulate(scenario(connections={"keepalive": {"requests": 5}}))
    of = rec.connections["request_connection"]  # type: ignore[index]
    for s in np.unique(workload.session):
        mine = of[workload.session == s]
        assert len(set(mine.tolist())) == math.ceil(len(mine) / 5)
        assert all(len(set(mine[j : j + 5].tolist())) == 1 for j in range(0, len(mine), 5))


def test_an_idle_timeout_shorter_than_the_think_time_reconnects_every_request() -> None:
    data = scenario(connections={"keepalive": {"idle_timeout": 0.5}})
    workload, rec = simulate(data)
    assert rec.connections["request_opened"].all()  # type: ignore[index]
    assert len(rec.connections["opened"]) == len(workload)  # type: ignore[index]


def test_layer_7_balances_each_request_unless_a_cookie_pins_it() -> None:
    # Round robin at layer 7 over 3 servers: a session's 12 requests rotate
    # with the others', so nearly every session meets more than one server
    # (and loses its state); with the cookie every request of a session goes
    # to its home (nothing fails here) and none is lost.
    workload, rec = simulate(scenario())
    servers = _per_session(workload, rec.columns["server"])
    assert sum(len(s) > 1 for s in servers) > 0.9 * len(servers)
    assert rec.sessions is not None and rec.sessions.lost.mean() > 0.9
    workload, rec = simulate(scenario(balancer={"sticky": {"cookie": "SID"}}))
    assert all(len(s) == 1 for s in _per_session(workload, rec.columns["server"]))
    assert rec.sessions is not None and not rec.sessions.lost.any()


def test_at_layer_4_the_connection_pins_the_session_to_its_host() -> None:
    # Layer 4: the host is picked when the connection opens, so one connection
    # per session means one server per session and no state lost, with no
    # cookie; round robin over connections gives the sessions to the servers
    # in turn (session k to server k mod 3 when no two sessions open together).
    workload, rec = simulate(scenario(balancer={"layer": 4}))
    servers = _per_session(workload, rec.columns["server"])
    assert all(len(s) == 1 for s in servers)
    assert rec.sessions is not None and not rec.sessions.lost.any()
    homes = [next(iter(s)) for s in servers]
    counts = np.bincount(homes, minlength=3)
    assert counts.max() - counts.min() <= 1


def test_a_crash_closes_the_pinned_connection_and_the_session_moves_once() -> None:
    # web-1 crashes at 60 s for good; its sessions' next request meets a dead
    # host (conn_error, retried once with redispatch): the connection is
    # closed, the retry reconnects to a live server (round robin skips none,
    # but the retry avoids the host it tried), and every later request of the
    # session rides that new connection to the same server.
    data = scenario(
        balancer={"layer": 4},
        arrivals={"process": "poisson", "rate": 3.0},
        retries={"max": 1, "retry_on": ["conn_error"]},
    )
    data["events"] = [{"at": 60.0, "target": "web-1", "action": "crash"}]
    workload, rec = simulate(data)
    server = rec.columns["server"]
    ok = rec.columns["status"] == OK
    arrival = workload.arrival
    moved = 0
    for s in np.unique(workload.session):
        mine = workload.session == s
        before = mine & (arrival < 60.0)
        if not before.any() or set(server[before].tolist()) != {1}:
            continue
        after = mine & (arrival >= 60.0) & ok
        if after.any():
            moved += 1
            assert set(server[after].tolist()) in ({0}, {2})
    assert moved >= 5
    assert rec.sessions is not None and rec.sessions.lost.sum() == moved


def test_a_mix_over_routes_draws_a_class_per_request_and_a_cookie_per_route() -> None:
    # Two classes of share 1/2 (path /api, /static) routed to two pools. Each
    # request of a session draws its class: the static share of n requests is
    # within 4 standard errors (sqrt(0.25 / n)) of 1/2, and a session reaches
    # both pools. The cookie is per route: all of a session's /api answers
    # come from one api server, all its /static ones from one static server.
    data = scenario(
        balancer={
            "sticky": {"cookie": "SID"},
            "routes": [{"match": {"path_prefix": "/static"}, "pool": "static"}, {"pool": "api"}],
        },
        mix=[
            {"name": "api", "share": 0.5, "path": "/api"},
            {"name": "static", "share": 0.5, "path": "/static/x.js"},
        ],
    )
    data["servers"] = [{"name": "api", "count": 2, "workers": 4}, {"name": "static", "count": 2}]
    workload, rec = simulate(data)
    route = rec.columns["route"]
    kinds = workload.request_class
    assert kinds is not None
    np.testing.assert_array_equal(route, np.where(kinds == 1, 0, 1))  # first match wins
    n = len(route)
    assert abs((route == 0).mean() - 0.5) < 4 * math.sqrt(0.25 / n)
    server = rec.columns["server"]
    assert set(server[route == 0].tolist()) == {2, 3} and set(server[route == 1].tolist()) == {0, 1}
    for s in np.unique(workload.session):
        for r in (0, 1):
            assert len(set(server[(workload.session == s) & (route == r)].tolist())) <= 1
    assert rec.sessions is not None and not rec.sessions.lost.any()


def test_a_sessions_later_requests_time_the_balancer_from_when_they_were_sent() -> None:
    """An idle layer-7 balancer CPU (4 workers, a few requests a second of
    35 µs each): every request's time at the balancer is exactly the CPU it
    cost, later requests of a session timed from their send time (they were
    NaN, read from a pre-drawn arrival the session never had)."""
    workload, rec = simulate(scenario(balancer={"layer": 7, "cpu": {"workers": 4}}))
    at_balancer = rec.columns["latency_balancer"]
    assert not np.isnan(at_balancer).any()
    np.testing.assert_allclose(at_balancer, rec.columns["balancer_cpu"], rtol=1e-9, atol=1e-12)
    later = np.ones(len(workload), dtype=bool)
    later[np.unique(workload.session, return_index=True)[1]] = False
    assert later.sum() > 10 * 80  # most requests are a session's later ones
