"""What the engine hands to algorithms and records per request: the Request
view, listener subscription, one-refresh initial health, the column registry
and the latency parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

import lbsim
from lbsim.algorithms import BaseAlgorithm, HostSet, Params, Request
from lbsim.engine.balancer import NOTHING_TRIED
from lbsim.engine.records import FACTS, Fact
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.runner.run import load_scenario
from tests.conftest import scenario

PICKS: list[tuple[int, int, int, int, tuple[int, ...], bool]] = []


class AvoidTried(BaseAlgorithm):
    """Host 0 unless already tried, else the lowest host not tried; logs each view."""

    name: ClassVar[str] = "avoid_tried_test"

    def pick(self, request: Request) -> int | None:
        tried = request.tried
        PICKS.append(
            (
                request.attempt,
                request.client_id,
                request.client_address,
                request.hash_key,
                tuple(sorted(tried)),
                tried is NOTHING_TRIED,
            )
        )
        return next(h for h in range(len(self.backends)) if h not in tried)


def world(data: dict[str, Any]) -> World:
    config = load_scenario(data, {}).variants[0].scenario
    return World(config, draw_workload(config))


def test_retries_see_the_hosts_already_tried_and_first_attempts_share_one_empty_tuple() -> None:
    # web-0 is down all run: attempt 0 goes to it (nothing tried yet) and
    # fails after the 1 s connect timeout; attempt 1 must see tried == {0}
    # and go to web-1. Were ``tried`` left empty, attempt 1 would pick web-0
    # again and every request would end in conn_error after 2 retries.
    lbsim.register_algorithm("avoid_tried_test")(AvoidTried)
    PICKS.clear()
    data = scenario(
        duration="2m",
        warmup=0,
        events=[{"at": 0, "target": "web-0", "action": "crash"}],
        balancer={"algorithm": "avoid_tried_test", "connect_timeout": "1s"},
        **{
            "servers.0.count": 3,
            "clients.count": 7,
            "clients.retries": {"max": 2, "retry_on": ["conn_error"]},
        },
    )
    result = lbsim.run(data)
    requests = result.requests
    assert len(requests) > 50
    assert (requests["status"] == "ok").all()
    assert (requests["retries"] == 1).all() and (requests["server"] == "web-1").all()
    first = [p for p in PICKS if p[0] == 0]
    retry = [p for p in PICKS if p[0] == 1]
    assert len(first) == len(retry) == len(requests)
    assert all(p[4] == () and p[5] for p in first)  # the shared empty tuple
    assert all(p[4] == (0,) for p in retry)
    # client_id is the sending client, in arrival order; the address is that
    # client's IPv4 (also the default hash key), one per client
    assert [p[1] for p in first] == requests["client"].tolist()
    address = {client: addr for _, client, addr, _, _, _ in PICKS}
    assert len(set(address.values())) == len(address) == 7
    assert all(p[2] == p[3] == address[p[1]] for p in PICKS)


class CountingPlugin:
    """A plug-in that does not derive from BaseAlgorithm but has ``hosts_changed``."""

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        self.backends = backends
        self.changes: list[list[int]] = []

    def pick(self, request: Request) -> int | None:
        eligible = self.backends.eligible()
        return eligible[0] if eligible else None

    def on_send(self, host: int) -> None:
        pass

    def on_complete(self, host: int, latency: float, status: int) -> None:
        pass

    def hosts_changed(self, hosts: Sequence[int]) -> None:
        self.changes.append(list(hosts))


class SelfSubscribing(CountingPlugin):
    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        super().__init__(backends, rng, params)
        backends.subscribe(self)  # type: ignore[arg-type]


@pytest.mark.parametrize("plugin", [CountingPlugin, SelfSubscribing])
def test_plugins_with_hosts_changed_are_subscribed_once(plugin: type[CountingPlugin]) -> None:
    lbsim.register_algorithm("counting_test")(plugin)
    built = world(scenario(balancer={"algorithm": "counting_test"}, **{"servers.0.count": 4}))
    algorithm = built.balancer.algorithm
    assert isinstance(algorithm, CountingPlugin)
    built.balancer.set_draining(2, True)
    assert algorithm.changes == [[2]]


@pytest.mark.parametrize(
    ("check", "fail_open", "expected"),
    [
        # ALB: every target starts unhealthy, fail-open routes to all of them:
        # nothing changed, so not a single notification
        ({"preset": "alb"}, True, []),
        # Envoy without fail-open: all 50 go out of rotation in one notification
        ({"preset": "envoy"}, False, [list(range(50))]),
    ],
)
def test_initial_health_is_set_in_one_refresh(
    check: dict[str, Any], fail_open: bool, expected: list[list[int]]
) -> None:
    lbsim.register_algorithm("counting_test")(CountingPlugin)
    data = scenario(
        balancer={"algorithm": "counting_test", "health_check": check, "fail_open": fail_open},
        **{"servers.0.count": 50},
    )
    algorithm = world(data).balancer.algorithm
    assert isinstance(algorithm, CountingPlugin)
    assert algorithm.changes == expected


def test_latency_parts_add_up_to_the_latency_of_every_ok_request() -> None:
    # A server crashed for 10 of 30 minutes: retried requests lose the connect
    # timeout on a failed attempt and wait out a back-off before the next.
    data = scenario(
        duration="30m",
        warmup=0,
        events=[{"at": "5m", "target": "web-0", "action": "crash", "for": "10m"}],
        balancer={"algorithm": "round_robin", "connect_timeout": "1s"},
        **{"servers.0.count": 3, "clients.arrivals.rate": 2.0, "clients.retries": {"max": 3}},
    )
    requests = lbsim.run(data).requests
    ok = requests[requests["status"] == "ok"]
    parts = ["latency_queue", "latency_service", "latency_backoff", "latency_failed_attempts"]
    total = ok[parts].sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, ok["latency"].to_numpy(), rtol=0, atol=1e-9)
    retried = ok[ok["retries"] > 0]
    first_time = ok[ok["retries"] == 0]
    assert len(retried) > 20
    # each attempt sent to the dead server waited out the 1 s connect timeout
    # (requests in flight at the crash instead fail at once: connections reset)
    sent_to_dead = retried[retried["arrival"] >= 300]
    assert len(sent_to_dead) > 20
    assert (sent_to_dead["latency_failed_attempts"] >= sent_to_dead["retries"] - 1e-9).all()
    assert (retried["latency_backoff"] > 0).all()
    assert (first_time["latency_backoff"] == 0).all()
    assert (first_time["latency_failed_attempts"] == 0).all()
    np.testing.assert_array_equal(ok["latency_queue"], ok["wait"])


def test_a_registered_fact_becomes_a_request_column(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FACTS, "probe_fact", Fact("probe_fact", "int16", 7, "test only"))
    requests = lbsim.run(scenario(duration="10m", warmup=0)).requests
    assert requests["probe_fact"].dtype == np.int16
    assert (requests["probe_fact"] == 7).all()
