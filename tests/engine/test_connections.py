"""Client connections: keep-alive reuse, HTTP/2 stream caps, idle timeouts,
layer-4 pinning, what the algorithm counts, max lifetime and draining.

Golden cases use one client with deterministic arrivals and service much
shorter than the gap between requests, so which connection each request
rides follows by hand from the rules in :mod:`lbsim.engine.connections`.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest

from lbsim.engine.connected import ConnectedBalancer
from lbsim.engine.records import Recorder
from lbsim.engine.workload import Workload, draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load
from tests.conftest import BASE

# one client, a request a second for 100 s, each served in 10 ms
SEQUENTIAL: dict[str, Any] = {
    "duration": "100s",
    "warmup": 0,
    "clients.count": 1,
    "clients.arrivals": {"process": "deterministic", "rate": 1.0},
    "clients.service": {"dist": "deterministic", "value": "10ms"},
    "servers.0.count": 2,
}


def scenario(*layers: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``BASE`` with dotted-path changes (missing sections created)."""
    data = copy.deepcopy(BASE)
    for layer in (*layers, changes):
        for dotted, value in layer.items():
            node = data
            *parents, last = dotted.split(".")
            for part in parents:
                node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
            node[int(last) if last.isdigit() else last] = copy.deepcopy(value)
    return data


def simulate(data: dict[str, Any]) -> tuple[Workload, Recorder, World]:
    variant = load(data=data).variants[0].scenario
    workload = draw_workload(variant)
    world = World(variant, workload)
    return workload, world.run(), world


def connections(rec: Recorder) -> dict[str, np.ndarray]:
    assert rec.connections is not None
    return rec.connections


def hosts_per_connection(rec: Recorder) -> np.ndarray:
    """How many distinct servers answered the requests of each connection."""
    stats = connections(rec)
    pairs = np.unique(np.stack([stats["request_connection"], rec.server]), axis=1)
    return np.bincount(pairs[0], minlength=len(stats["opened"]))


def test_keepalive_budget_and_the_tls_hook() -> None:
    # Each request ends 10 ms after it arrives, 990 ms before the next: the
    # client's one connection is idle, so it is reused until it has carried
    # its 5 requests and closes; the next request opens a new one. So request
    # i rides connection i // 5 and opens it when i % 5 == 0.
    data = scenario(SEQUENTIAL, **{"clients.connections": {"keepalive": {"requests": 5}}})
    workload, rec, world = simulate(data)
    stats = connections(rec)
    ids = np.arange(len(workload))
    assert len(workload) == 100
    np.testing.assert_array_equal(stats["request_connection"], ids // 5)
    np.testing.assert_array_equal(stats["request_opened"], ids % 5 == 0)
    assert world.connections is not None
    assert list(world.connections.opened_by[:7]) == [1, 0, 0, 0, 0, 1, 0]
    np.testing.assert_array_equal(stats["requests"], np.full(20, 5))
    # closed by its budget the moment its fifth answer came back
    last = ids[ids % 5 == 4]
    np.testing.assert_array_equal(stats["closed"], rec.end[last])


def test_layer7_balances_each_request_and_layer4_pins_the_connection() -> None:
    # Round robin over two servers: at layer 7 the five requests of a
    # connection alternate between them; at layer 4 all five go where the
    # connection went, and connections alternate.
    data = scenario(SEQUENTIAL, **{"clients.connections": {"keepalive": {"requests": 5}}})
    _, rec, _ = simulate(data)
    np.testing.assert_array_equal(rec.server, np.arange(100) % 2)
    _, rec, _ = simulate(scenario(data, **{"balancer.layer": 4}))
    np.testing.assert_array_equal(rec.server, (np.arange(100) // 5) % 2)


def test_layer4_pinning_under_load() -> None:
    # 50 clients, requests overlapping, retries and random per-connection
    # budgets: still every request of a connection is answered by one host;
    # at layer 7 most connections of several requests see more than one.
    data = scenario(
        {
            "duration": "5m",
            "warmup": 0,
            "clients.count": 50,
            "clients.arrivals.rate": 20.0,
            "clients.service": {"dist": "exponential", "mean": "150ms"},
            "servers.0.count": 4,
            "servers.0.workers": 1,
            "clients.connections": {"keepalive": {"requests": {"dist": "exponential", "mean": 10}}},
        }
    )
    _, rec, _ = simulate(scenario(data, **{"balancer.layer": 4}))
    assert (hosts_per_connection(rec) == 1).all()
    _, rec, _ = simulate(data)
    many = connections(rec)["requests"] >= 3
    assert (hosts_per_connection(rec)[many] > 1).mean() > 0.5


@pytest.mark.parametrize("layer", [4, 7])
def test_what_the_algorithm_counts(layer: int) -> None:
    # After every slice of the run: at layer 4 the host set's outstanding
    # (what least_connections reads) is the open connections pinned to each
    # host; at layer 7 it is the requests in flight, as without connections.
    data = scenario(
        {
            "duration": "2m",
            "warmup": 0,
            "clients.count": 20,
            "clients.arrivals.rate": 30.0,
            "clients.service": {"dist": "exponential", "mean": "100ms"},
            "servers.0.count": 4,
            "servers.0.workers": 2,
            "balancer.algorithm": "least_connections",
            "balancer.layer": layer,
            "clients.connections": {"keepalive": {"requests": 20, "idle_timeout": "2s"}},
        }
    )
    variant = load(data=data).variants[0].scenario
    world = World(variant, draw_workload(variant))
    balancer, table = world.balancer, world.connections
    assert isinstance(balancer, ConnectedBalancer) and table is not None
    seen: list[tuple[list[int], list[int]]] = []

    def check(fraction: float) -> None:
        if layer == 4:
            seen.append((list(balancer.backends.outstanding), list(table.open_per_host)))
        else:
            seen.append(([sum(balancer.backends.outstanding)], [world.totals.outstanding]))

    world.run(check)
    assert all(a == b for a, b in seen)
    assert max(max(a) for a, _ in seen) > 1  # the counts were exercised


def test_keepalive_requests_per_connection_follows_the_distribution() -> None:
    # Budget = ceil(X), X exponential with mean m = 4: geometric with
    # p = 1 - exp(-1/m), mean 1/p = 4.521, sd sqrt(1-p)/p = 3.99. One client
    # sends every 100 ms, each answered in 1 ms, so every connection carries
    # its full budget (the last one excepted). N ≈ 4000 connections: standard
    # error 3.99/sqrt(N) ≈ 0.063; tolerance 4 SE = 0.25, which catches
    # rounding to nearest instead of up (mean ≈ 4.0).
    data = scenario(
        SEQUENTIAL,
        **{
            "duration": "30m",
            "clients.arrivals.rate": 10.0,
            "clients.service": {"dist": "deterministic", "value": "1ms"},
            "clients.connections": {"keepalive": {"requests": {"dist": "exponential", "mean": 4}}},
        },
    )
    _, rec, _ = simulate(data)
    carried = connections(rec)["requests"][:-1]
    p = 1 - math.exp(-1 / 4)
    se = math.sqrt(1 - p) / p / math.sqrt(len(carried))
    assert len(carried) > 3500
    assert abs(carried.mean() - 1 / p) < 4 * se


def test_idle_timeout_closes_connections() -> None:
    # A request every 2 s, answered in 10 ms. idle_timeout 1 s: the
    # connection is closed 1 s after each answer, so every request opens
    # its own; idle_timeout 3 s: the one connection is never idle that long.
    base = scenario(SEQUENTIAL, **{"clients.arrivals.rate": 0.5})
    short = {"clients.connections": {"keepalive": {"idle_timeout": "1s"}}}
    _, rec, _ = simulate(scenario(base, **short))
    stats = connections(rec)
    assert len(stats["opened"]) == 50 == len(rec.end)
    np.testing.assert_allclose(stats["closed"], rec.end + 1.0, rtol=0, atol=1e-9)
    long = {"clients.connections": {"keepalive": {"idle_timeout": "3s"}}}
    _, rec, _ = simulate(scenario(base, **long))
    assert len(connections(rec)["opened"]) == 1


def test_a_reused_connection_closes_idle_timeout_after_its_last_answer() -> None:
    # Requests at 0, 2, ..., 8 s (10 ms each), idle_timeout 3 s: the timer set
    # at the first answer (due 3.01) finds the connection idle only since 2.01
    # and waits to 5.01, and so on; it closes 3 s after the last answer, 8.01.
    base = scenario(SEQUENTIAL, duration="10s", **{"clients.arrivals.rate": 0.5})
    data = scenario(base, **{"clients.connections": {"keepalive": {"idle_timeout": "3s"}}})
    _, rec, _ = simulate(data)
    stats = connections(rec)
    assert len(rec.end) == 5 and len(stats["opened"]) == 1
    assert stats["closed"][0] == rec.end[-1] + 3.0


@pytest.mark.parametrize(
    "change",
    [
        # the balancer crashes at 5.5 s and closes its connections
        {"events": [{"at": "5.5s", "target": "lb-0", "action": "crash", "for": "1s"}]},
        # each connection's max lifetime (1.5 s) is up after its idle timeout
        {"balancer.connections": {"max_lifetime": "1.5s"}},
    ],
    ids=["balancer crash", "max lifetime"],
)
def test_a_connection_past_its_idle_timeout_closes_at_its_end(change: dict[str, Any]) -> None:
    # A request every 2 s (10 ms each), idle_timeout 1 s, and something that
    # closes connections later than their idle timeout ends: a crash at
    # 5.5 s finds the one of the request at 4 s idle since 4.01; a connection's
    # max lifetime, 1.5 s after it opened, finds it idle since 0.01 past its
    # open. A layer-7 connection's idle timeout is applied when it is next
    # looked at, and it closed when the timeout ended: 1 s after its answer.
    base = scenario(SEQUENTIAL, duration="10s", **{"clients.arrivals.rate": 0.5})
    short = {"clients.connections": {"keepalive": {"idle_timeout": "1s"}}}
    _, rec, world = simulate(scenario(base, short, **change))
    assert world.connections is not None and not world.connections.pinned
    stats = connections(rec)
    carried = stats["request_connection"][rec.status == 0]
    assert len(carried) == len(set(carried.tolist())) >= 4  # each on its own connection
    np.testing.assert_allclose(
        stats["closed"][carried], rec.end[rec.status == 0] + 1.0, rtol=0, atol=1e-9
    )


def test_http2_streams_cap() -> None:
    # One client, about 10 requests in flight (50/s x 200 ms), streams: 4. A
    # connection never has more than 4 in flight, and a new one is opened
    # only when every open connection of the client already has 4.
    streams = 4
    data = scenario(
        {
            "duration": "2m",
            "warmup": 0,
            "clients.count": 1,
            "clients.arrivals.rate": 50.0,
            "clients.service": {"dist": "exponential", "mean": "200ms"},
            "servers.0.count": 4,
            "servers.0.workers": 8,
            "clients.connections": {"streams": streams, "keepalive": {"idle_timeout": "1s"}},
        }
    )
    workload, rec, _ = simulate(data)
    stats = connections(rec)
    conn, arrival, end = stats["request_connection"], workload.arrival, rec.end
    assert not np.isnan(end).any()
    closed = np.where(np.isnan(stats["closed"]), np.inf, stats["closed"])
    peak = 0
    for request in range(len(workload)):
        t = arrival[request]
        in_flight = np.bincount(conn[(arrival <= t) & (end > t)], minlength=len(stats["opened"]))
        peak = max(peak, int(in_flight.max()))
        assert in_flight.max() <= streams
        if stats["request_opened"][request]:
            others = (stats["opened"] < t) & (closed > t)
            assert (in_flight[others] == streams).all()
    assert peak == streams


def test_max_lifetime_and_draining_close_pinned_connections() -> None:
    # WebSockets (pinned) living 10 minutes on average: with max_lifetime
    # 60 s, none outlives 60 s plus the time to answer its message in
    # flight; web-0 drained at 120 s with drain_timeout 30 s holds no
    # connection after 150 s and gets none after 120 s.
    data = scenario(
        {
            "duration": "5m",
            "warmup": 0,
            "clients.arrivals.rate": 2.0,
            "clients.service": {"dist": "exponential", "mean": "10ms"},
            "servers.0.count": 3,
            "servers.0.workers": 4,
            "clients.connections": {"websocket": {"duration": "10m", "message_rate": 0.2}},
            "balancer.connections": {"max_lifetime": "60s", "drain_timeout": "30s"},
            "events": [{"at": "120s", "target": "web-0", "action": "drain"}],
        }
    )
    _, rec, _ = simulate(data)
    stats = connections(rec)
    opened, closed, host = stats["opened"], stats["closed"], stats["host"]
    latency = np.nanmax(rec.end - rec.sent)
    assert np.nanmax(closed - opened) <= 60 + latency
    on_web0 = host == 0
    assert not (on_web0 & (opened >= 120)).any()
    assert (closed[on_web0] <= 150 + 1e-9).all()
    assert (on_web0 & (closed > 149)).any()  # some were closed by the drain itself
    assert (hosts_per_connection(rec) <= 1).all()


@pytest.mark.parametrize(
    "changes",
    [
        {
            "balancer.instances": 2,
            "balancer.layer": 4,
            "balancer.algorithm": "least_connections",
            "balancer.health_check": {"preset": "haproxy", "interval": "1s"},
            "clients.retries": {"max": 2},
            "events": [
                {"at": "30s", "target": "web-1", "action": "crash", "for": "20s"},
                {"at": "60s", "target": "lb-1", "action": "crash", "for": "10s"},
            ],
        },
        {
            "balancer.instances": 2,
            "balancer.mode": "active_passive",
            "balancer.algorithm": "peak_ewma",
            "balancer.layer": 4,
            "clients.connections": {"streams": 8},
            "events": [{"at": "40s", "target": "lb-0", "action": "crash"}],
        },
        {
            "balancer.algorithm": {"name": "least_connections", "info_delay": 2},
            "clients.per_try_timeout": "150ms",
            "clients.retries": {"max": 1},
            "balancer.connections": {"max_lifetime": "5s"},
        },
    ],
    ids=["instances-checks-retries", "active-passive-ewma-h2", "info-delay-timeouts-lifetime"],
)
def test_connections_with_other_features(changes: dict[str, Any]) -> None:
    # Whatever else is configured: every request that ended left its
    # connection (none is left with requests in flight once all have ended),
    # each connection carried at least the requests that rode it last, and
    # the balancer's connection counts went back to zero with the connections.
    data = scenario(
        {
            "duration": "2m",
            "warmup": 0,
            "clients.count": 30,
            "clients.arrivals.rate": 20.0,
            "clients.service": {"dist": "exponential", "mean": "100ms"},
            "servers.0.count": 3,
            "servers.0.workers": 2,
            "clients.connections": {"keepalive": {"requests": 10, "idle_timeout": "1s"}},
        },
        **changes,
    )
    workload, rec, world = simulate(data)
    table = world.connections
    assert table is not None
    stats = connections(rec)
    assert not np.isnan(rec.end).any()
    assert not any(table.active)
    riders = np.bincount(stats["request_connection"], minlength=len(table))
    assert (riders <= stats["requests"]).all() and stats["requests"].sum() >= len(workload)
    open_now = [s != 2 for s in table.state]  # CLOSED == 2
    for balancer in world.balancers:
        if table.pinned:
            expected = [0] * len(world.servers)
            for c, is_open in enumerate(open_now):
                if is_open and table.owner[c] == balancer.index and table.host[c] >= 0:
                    expected[table.host[c]] += 1
            assert balancer.backends.outstanding == expected
        else:
            assert sum(balancer.backends.outstanding) == 0


@pytest.mark.parametrize(
    "changes",
    [
        # an arrival a second, answered in 0.5 s: each next one comes exactly
        # when the idle timeout (0.5 s) ends
        {"clients.service": {"dist": "deterministic", "value": "0.5s"}},
        # one session of 12 requests whose think time is the idle timeout (10
        # ms answers, think 0.5 s): each next request comes exactly then
        {
            "clients.arrivals.rate": 0.05,
            "clients.sessions": {"requests": 12, "think": {"dist": "deterministic", "value": 0.5}},
        },
    ],
    ids=["arrivals", "think time"],
)
def test_a_request_at_the_very_end_of_the_idle_timeout_reuses_the_connection(
    changes: dict[str, Any],
) -> None:
    # The idle timer, set at the answer that left the connection idle, comes
    # after the next request's event, scheduled before that answer (an
    # arrival's when the previous one arrived, a think time's at the answer,
    # before the connection is released): the request finds the connection
    # open, so the client's one connection carries every request.
    idle = {"clients.connections": {"keepalive": {"idle_timeout": "0.5s"}}}
    _, rec, _ = simulate(scenario(SEQUENTIAL, idle, duration="20s", **changes))
    assert len(rec.end) >= 10
    assert len(connections(rec)["opened"]) == 1
