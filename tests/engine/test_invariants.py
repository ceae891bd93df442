"""Invariants over small random scenarios (hypothesis, derandomized).

Each example is a 30-second world with a few servers, a random built-in
algorithm, optional retries, health checks, passive checks, slow start, a
second balancer instance and a crash or hang. It is built and run as
``lbsim.run`` does (``World(...).run()`` then ``requests_frame``), so the
test can also look at the world's totals and wrap each algorithm's ``pick``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lbsim import algorithms
from lbsim.algorithms import HostSet, Request
from lbsim.analysis.result import requests_frame
from lbsim.engine.records import STATUSES
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.runner.run import load_scenario
from lbsim.scenario.models.balancer import NO_SLOW_START


class Checked:
    """Wraps an algorithm: every pick is of an available host, and None only
    when no available host is left untried (NGINX's "no live upstreams" once
    every peer was tried for the request)."""

    def __init__(self, inner: Any, backends: HostSet) -> None:
        self.inner = inner
        self.backends = backends
        self.picks = 0

    def pick(self, request: Request) -> int | None:
        host: int | None = self.inner.pick(request)
        available = self.backends.available
        if host is None:
            untried = [i for i in self.backends.eligible() if i not in request.tried]
            assert not untried, f"None while {untried} are available and untried"
        else:
            assert available[host], f"picked unavailable host {host}"
        self.picks += 1
        return host

    def on_send(self, host: int) -> None:
        self.inner.on_send(host)

    def on_complete(self, host: int, latency: float, status: int) -> None:
        self.inner.on_complete(host, latency, status)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 4))
    balancer: dict[str, Any] = {
        "algorithm": draw(st.sampled_from(sorted(algorithms.available()))),
        "connect_timeout": "500ms",
        "instances": draw(st.integers(1, 2)),
        "fail_open": draw(st.booleans()),
    }
    if draw(st.booleans()):
        balancer["health_check"] = {
            "preset": draw(st.sampled_from(["haproxy", "alb", "envoy"])),
            "interval": "2s",
            "timeout": "1s",
        }
    if draw(st.booleans()):
        balancer["passive"] = {"preset": "nginx", "max_fails": 1, "fail_timeout": "3s"}
    if balancer["algorithm"] not in NO_SLOW_START and draw(st.booleans()):
        balancer["slow_start"] = {"preset": "envoy", "window": "5s"}
    clients: dict[str, Any] = {
        "count": draw(st.integers(1, 50)),
        "arrivals": {"process": "poisson", "rate": draw(st.sampled_from([2.0, 8.0, 20.0]))},
        "service": {"dist": "exponential", "mean": draw(st.sampled_from([0.02, 0.1, 0.3]))},
        "timeout": "3s",
    }
    if draw(st.booleans()):
        clients["retries"] = {
            "max": draw(st.integers(1, 3)),
            "retry_on": ["conn_error", "timeout", "rejected", "server_error"],
        }
    if draw(st.booleans()):
        clients["per_try_timeout"] = "1s"
    events = []
    fault = draw(st.sampled_from([None, "crash", "hang", "error_rate"]))
    if fault is not None:
        event: dict[str, Any] = {"at": "5s", "target": "web-0", "action": fault, "for": "10s"}
        if fault == "error_rate":
            event["rate"] = 0.5
        events.append(event)
    return {
        "name": "invariants",
        "seed": draw(st.integers(0, 1000)),
        "duration": "30s",
        "warmup": 0,
        "clients": clients,
        "balancer": balancer,
        "servers": [
            {"name": "web", "count": count, "workers": draw(st.integers(1, 2)), "queue_limit": 4}
        ],
        "events": events,
    }


@settings(max_examples=20, derandomize=True, deadline=None)
@given(scenarios())
def test_every_request_ends_once_in_order_and_counts_return_to_zero(data: dict[str, Any]) -> None:
    config = load_scenario(data, {}).variants[0].scenario
    workload = draw_workload(config)
    world = World(config, workload)
    checked = []
    for balancer in world.balancers:
        balancer.algorithm = Checked(balancer.algorithm, balancer.backends)
        checked.append(balancer.algorithm)
    recorder = world.run()
    frame = requests_frame("v", workload, recorder, config.server_names(), 0.0)

    # every request is in the frame once, with exactly one final status (the
    # 3 s client timeout ends every request well within the drain time)
    assert frame["id"].tolist() == list(range(len(workload)))
    assert frame["status"].isin([s for s in STATUSES if s != "incomplete"]).all()
    # times in order: arrival <= sent <= start <= end
    arrival, end = frame["arrival"].to_numpy(), frame["end"].to_numpy()
    assert (end >= arrival).all()
    served = ~np.isnan(frame["start"].to_numpy())
    sent = recorder.sent
    assert (sent[served] >= arrival[served]).all()
    assert (frame["start"].to_numpy()[served] >= sent[served]).all()
    ok = (frame["status"] == "ok").to_numpy()
    assert served[ok].all() and (end[ok] >= frame["start"].to_numpy()[ok]).all()
    # latency parts add up for every ok request
    parts = ["latency_queue", "latency_service", "latency_backoff", "latency_failed_attempts"]
    np.testing.assert_allclose(
        frame.loc[ok, parts].sum(axis=1), frame.loc[ok, "latency"], rtol=0, atol=1e-9
    )
    # nothing left outstanding anywhere
    totals = world.totals
    assert (totals.jobs, totals.outstanding, totals.pending_retries) == (0, 0, 0)
    assert not any(world.state.inflight)
    for balancer in world.balancers:
        assert not any(balancer.backends.outstanding)
    assert not any(s.busy or s.queue or s.held for s in world.servers)
    assert sum(c.picks for c in checked) >= len(workload) - int(
        (frame["status"] == "conn_error").sum()
    )
