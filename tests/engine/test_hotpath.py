"""The run loop's inlined path (lbsim.engine.hotpath) against the methods it
writes out: each scenario is run twice from the same workload, once as
shipped and once with nothing inlined (every arrival through
``Arrivals.arrive``, every service end through ``Server._finish``, every
answer through ``server.done``), and every record must be identical, bit for
bit. The scenarios between them take each flag test of the inlined path
both ways (a queue limit, timeouts and retries, an abandoned attempt, a
crash, a hang, a failing and a slowed server, probes through the queue,
several instances, request-blind and hashing algorithms, outcome listeners,
servers with a demand column of their own beside plain ones),
so a rule changed in a method and not in the loop (or the reverse) fails here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lbsim.engine.hotpath
import lbsim.engine.world
from lbsim.engine.hotplan import HotPath
from lbsim.engine.records import CONN_ERROR, REJECTED, SERVER_ERROR, TIMEOUT, Recorder
from lbsim.engine.servers import Server
from lbsim.engine.state import Totals
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load
from tests.conftest import ROOT, cluster

LOADED = {"duration": "20m", "clients.arrivals.rate": 3.6, "clients.count": 50}


ROW = {"name": "row", "count": 2, "workers": 8, "contention": "optimistic"}
POOLS = [{"name": "api", "count": 2, "workers": 1}, {"name": "static", "count": 2, "workers": 1}]
MIX = [
    {"name": "api", "share": 0.6, "path": "/api", "timeout": "4s"},
    {"name": "static", "share": 0.4, "path": "/static"},
]
ROUTES = [{"match": {"path_prefix": "/static"}, "pool": "static"}, {"pool": "api"}]
SESSIONS = {"clients.arrivals.rate": 0.36, "clients.sessions": {"requests": 10, "think": "5s"}}
KEEPALIVE = {"keepalive": {"requests": 20, "idle_timeout": "4s"}}


def _loaded(balancer: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Four servers at ρ = 0.9 behind ``balancer`` (``changes`` may override the load)."""
    return cluster(**{**LOADED, **changes}, balancer=balancer)


SCENARIOS: dict[str, dict[str, Any]] = {
    "random": _loaded({"algorithm": "random"}),
    "round_robin": _loaded({"algorithm": "round_robin"}),
    "least_connections": _loaded({"algorithm": "least_connections"}),
    "power_of_two": _loaded({"algorithm": "power_of_two"}),
    "ip_hash, queue limit": _loaded({"algorithm": "ip_hash"}, **{"servers.0.queue_limit": 2}),
    "timeouts and retries": _loaded(
        {"algorithm": "least_connections"},
        **{
            "clients.timeout": "6s",
            "clients.per_try_timeout": "3s",
            "clients.retries": {"max": 2, "retry_on": ["timeout", "conn_error"]},
        },
    ),
    "faults and probes": _loaded(
        {
            "algorithm": "round_robin",
            "health_check": {"interval": "5s", "timeout": "2s", "through_queue": True},
            "passive": {"preset": "envoy"},
        },
        events=[
            {"at": "3m", "target": "web-0", "action": "crash", "for": "1m"},
            {"at": "6m", "target": "web-1", "action": "hang", "for": "1m"},
            {"at": "9m", "target": "web-2", "action": "error_rate", "rate": 0.3},
            {"at": "12m", "target": "web-3", "action": "slow", "factor": 3, "for": "2m"},
        ],
    ),
    "instances, load-dependent service": _loaded(
        {"algorithm": "power_of_two", "instances": 2},
        **{"servers.0.slowdown": [{"load": 1, "factor": 1.0}, {"load": 4, "factor": 1.5}]},
    ),
    # a contended row draws each attempt's demand into a column of its own
    **{
        f"contended row {order}": _loaded(
            {"algorithm": "round_robin"},
            servers=pools,
            **{"clients.retries": {"max": 2, "retry_on": ["server_error"]}},
        )
        for order, pools in (
            ("first", [ROW, {"name": "web", "count": 2, "workers": 1}]),
            ("last", [{"name": "web", "count": 2, "workers": 1}, ROW]),
        )
    },
    "active-passive pair, balancer crash": _loaded(
        {"instances": 2, "mode": "active_passive"},
        events=[{"at": "5m", "target": "lb-0", "action": "crash", "for": "1m"}],
    ),
    # layer 7: arrivals through a front (one, or one per instance), its
    # routes, a class's own timeout, sessions (flat and routed) sent by the
    # loop, cookies, keep-alive connections, connections pinned at layer 4
    "routes, a class timeout, two instances": _loaded(
        {"algorithm": "least_connections", "instances": 2, "routes": ROUTES},
        **{"clients.mix": MIX, "servers": POOLS},
    ),
    "two balancer CPUs near saturation, TLS, a class timeout": _loaded(
        {
            "algorithm": "round_robin",
            "layer": 7,
            "routes": ROUTES,
            "instances": 2,
            "cpu": {"workers": 1, "request_cost": "0.45s"},  # ρ = 0.81 per instance
            "tls": {"resumption": 0.5},
        },
        **{"clients.mix": MIX, "servers": POOLS},
    ),
    "flat sessions, cookie": _loaded(
        {"algorithm": "round_robin", "sticky": {"cookie": "SERVERID"}},
        **SESSIONS,
        events=[{"at": "5m", "target": "web-1", "action": "crash", "for": "1m"}],
    ),
    # every time a multiple of 0.5 s: a session's next request often falls due
    # at the very moment a session starts or a service ends, its sequence
    # number before or after the start's (taken by time, then sequence number)
    "sessions with ties: deterministic starts, think times and service": _loaded(
        {"algorithm": "round_robin"},  # (the order of two sends at one moment shows)
        **{
            "duration": "5m",
            "clients.arrivals.process": "deterministic",
            "clients.arrivals.rate": 2,
            "clients.sessions": {"requests": 6, "think": {"dist": "deterministic", "value": 3}},
            "clients.service": {"dist": "deterministic", "value": 0.5},
        },
    ),
    "routed sessions, cookie, keep-alive": _loaded(
        {"algorithm": "round_robin", "layer": 7, "routes": ROUTES, "sticky": {"cookie": "S"}},
        **SESSIONS,
        **{"clients.mix": MIX, "servers": POOLS, "clients.connections": KEEPALIVE},
    ),
    "TLS without a CPU, keep-alive, sessions": _loaded(
        {
            "algorithm": "least_connections",
            "layer": 7,
            "tls": {"rtt": "20ms"},
            "sticky": {"cookie": "S"},
        },
        **SESSIONS,
        **{"clients.connections": KEEPALIVE},
    ),
    "active-passive fronts, balancer crash, sessions": _loaded(
        {"instances": 2, "mode": "active_passive", "routes": ROUTES, "sticky": {"cookie": "S"}},
        **SESSIONS,
        **{"clients.mix": MIX, "servers": POOLS},
        events=[{"at": "5m", "target": "lb-0", "action": "crash", "for": "1m"}],
    ),
    "sessions through DNS instances, a balancer crash": _loaded(
        {"algorithm": "round_robin", "instances": 2, "routes": ROUTES, "sticky": {"cookie": "S"}},
        **SESSIONS,
        **{"clients.mix": MIX, "servers": POOLS},
        events=[{"at": "5m", "target": "lb-1", "action": "crash", "for": "1m"}],
    ),
    "ip_hash on keep-alive, a crash": _loaded(
        {"algorithm": "ip_hash", "layer": 7, "routes": ROUTES, "sticky": {"cookie": "S"}},
        **SESSIONS,
        **{"clients.mix": MIX, "servers": POOLS, "clients.connections": KEEPALIVE},
        events=[{"at": "5m", "target": "api-1", "action": "crash", "for": "2m"}],
    ),
    "fan-out through routes": _loaded(
        {"algorithm": "least_connections", "routes": ROUTES},
        **{"clients.fanout": {"leaves": 3}, "clients.arrivals.rate": 1.0},
        **{"clients.mix": MIX, "servers": POOLS},
    ),
    "pinned connections (layer 4)": _loaded(
        {"algorithm": "least_connections", "layer": 4},
        **{"clients.connections": KEEPALIVE},
    ),
}


def _nothing_inlined(servers: list[Server], totals: Totals, *_: Any, **__: Any) -> HotPath:
    return HotPath(servers, totals)


def _run(data: dict[str, Any] | str, inlined: bool = True, variant: int = 0) -> Recorder:
    loaded = load(ROOT / "scenarios" / data) if isinstance(data, str) else load(data=data)
    scenario = loaded.variants[variant].scenario
    workload = draw_workload(scenario)
    with pytest.MonkeyPatch.context() as patch:
        if not inlined:
            patch.setattr(lbsim.engine.world, "hot_path", _nothing_inlined)
            patch.setattr(lbsim.engine.hotpath, "service_end", object())  # no entry's handler
            patch.setattr(lbsim.engine.hotpath, "cpu_end", object())
            patch.setattr(lbsim.engine.hotpath, "round_trips_end", object())
        return World(scenario, workload).run()


# bundled: cookie persistence with and without a session store (a Server with
# columns of its own); health checks, a crash and a slow server; a balancer
# pair's failover; and layer 7
BUNDLED = [
    ("sticky_sessions.yaml", 0),
    ("sticky_sessions.yaml", 1),
    ("microservices_routing.yaml", 1),  # routes to three pools, least connections
    ("canary.yaml", 1),  # versions drawn per request, a rollback
    ("tls_termination.yaml", 1),  # the balancer CPU: a front's station
    ("websockets.yaml", 3),  # long-lived pinned connections, a max lifetime
    ("black_friday_single_region.yaml", 0),
    ("lb_failover.yaml", 0),
]


@pytest.mark.parametrize(
    ("data", "variant"), [(SCENARIOS[name], 0) for name in sorted(SCENARIOS)] + BUNDLED
)
def test_inlined_path_is_the_methods(data: dict[str, Any] | str, variant: int) -> None:
    fast = _run(data, variant=variant)
    slow = _run(data, inlined=False, variant=variant)
    assert fast.columns.keys() == slow.columns.keys()
    for column in fast.columns:
        np.testing.assert_array_equal(fast.columns[column], slow.columns[column], err_msg=column)
    for levels in ("busy_area", "queue_area", "queue_peak", "lb_busy_area", "lb_queue_area"):
        np.testing.assert_array_equal(getattr(fast, levels), getattr(slow, levels), levels)
    assert (fast.connections is None) == (slow.connections is None)
    for name in fast.connections or {}:
        assert slow.connections is not None
        np.testing.assert_array_equal(fast.connections[name], slow.connections[name], name)
    assert (fast.sessions is None) == (slow.sessions is None)
    if fast.sessions is not None and slow.sessions is not None:
        for name in ("start", "home", "lost"):
            a, b = getattr(fast.sessions, name), getattr(slow.sessions, name)
            np.testing.assert_array_equal(a, b, name)
    assert fast.store_busy_area == slow.store_busy_area
    assert fast.sample_times == slow.sample_times
    fast_samples = fast.samples + fast.balancer_samples
    for a, b in zip(fast_samples, slow.samples + slow.balancer_samples, strict=True):
        np.testing.assert_array_equal(a, b)
    assert fast.events == slow.events
    assert fast.abandoned == slow.abandoned


def test_scenarios_take_the_paths_they_are_named_for() -> None:
    """Requests are rejected, time out, retry, are abandoned and fail in the
    scenarios meant to take those branches."""
    rejected = _run(SCENARIOS["ip_hash, queue limit"]).status
    assert (rejected == REJECTED).any()
    retried = _run(SCENARIOS["timeouts and retries"])
    assert (retried.status == TIMEOUT).any() and (retried.retries > 0).any()
    assert retried.abandoned > 0
    for order in ("first", "last"):  # conflicts retried, some after queueing
        assert (_run(SCENARIOS[f"contended row {order}"]).retries > 0).sum() > 100
    cpus = _run(SCENARIOS["two balancer CPUs near saturation, TLS, a class timeout"])
    gone = (cpus.columns["balancer_cpu"] == 0) & (cpus.status == TIMEOUT)
    assert gone.any() and (cpus.columns["latency_tls"] > 0).any()  # left while queued; TLS
    faults = _run(SCENARIOS["faults and probes"]).status
    assert (faults == CONN_ERROR).any() and (faults == SERVER_ERROR).any()
