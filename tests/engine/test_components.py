"""A Server, a Balancer and a Prober driven alone in a tiny SimPy
environment, compared as event traces (SimPy's own test style).

Every time in an expected trace is derived by hand in the comment above it;
all chosen durations are exact in binary floating point, so traces compare
with ``==``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from simpy.events import Timeout

from lbsim.algorithms import HostSet, Params, Request
from lbsim.algorithms.base import BaseAlgorithm
from lbsim.algorithms.draws import Uniforms
from lbsim.engine.balancer import Balancer
from lbsim.engine.health import Prober
from lbsim.engine.loop import Loop
from lbsim.engine.records import CONN_ERROR, OK, REJECTED, Recorder, column
from lbsim.engine.servers import ATTEMPT_BITS, Server
from lbsim.engine.state import RequestState, Totals
from lbsim.scenario import Clients, HealthCheck


class Halves:
    """A stand-in Generator whose uniforms are all 0.5 (back-off = half its bound)."""

    def random(self, size: int) -> np.ndarray:
        return np.full(size, 0.5)


def at(env: Loop, time: float, action: Any) -> None:
    Timeout(env, time - env.now).callbacks.append(lambda _: action())


def make_server(
    env: Loop,
    index: int,
    state: RequestState,
    recorder: Recorder,
    demand: list[float],
    log: list[tuple[float, int, int, int]],
    done: Any = None,
    *,
    queue_limit: int | None = None,
    totals: Totals | None = None,
) -> Server:
    def record(job: int, backend: int, status: int) -> None:
        log.append((env.now, job, backend, status))
        if done is not None:
            done(job, backend, status)

    return Server(
        env,
        index,
        f"web-{index}",
        workers=1,
        speed=1.0,
        queue_limit=queue_limit,
        demand=column(np.array(demand)),
        start=column(recorder.start),
        tries=column(state.attempt),
        inflight=state.inflight,
        done=record,
        connect_timeout=1.0,
        errors=Uniforms(np.random.default_rng(0)),
        window=(0.0, 100.0),
        totals=totals,
    )


def clients(**fields: Any) -> Clients:
    """Client settings; arrivals and service are required but unused here."""
    base = {"arrivals": {"rate": 1.0}, "service": {"dist": "exponential", "mean": 1.0}}
    return Clients.model_validate({**base, **fields})


def tables(n: int, servers: int) -> tuple[RequestState, Recorder]:
    state = RequestState(n)
    return state, Recorder(n, servers, shared=state.columns())


def test_server_serves_fcfs_queues_one_and_rejects_the_next() -> None:
    # One worker, queue limit 1. Jobs: request 0 (2 s) at t=0, request 1 (3 s)
    # at t=0.5, request 2 (1 s) at t=1.
    # t=0: 0 starts; t=0.5: 1 queues; t=1: queue full -> 2 rejected at once;
    # t=2: 0 ends OK, 1 starts; t=5: 1 ends OK.
    env = Loop()
    state, recorder = tables(3, 1)
    state.inflight[:] = b"\x01\x01\x01"
    log: list[tuple[float, int, int, int]] = []
    totals = Totals()
    server = make_server(
        env, 0, state, recorder, [2.0, 3.0, 1.0], log, queue_limit=1, totals=totals
    )
    for time, request in [(0.0, 0), (0.5, 1), (1.0, 2)]:
        at(env, time, lambda r=request: server.accept(r << ATTEMPT_BITS))
    env.run()
    assert log == [
        (1.0, 2 << ATTEMPT_BITS, 0, REJECTED),
        (2.0, 0, 0, OK),
        (5.0, 1 << ATTEMPT_BITS, 0, OK),
    ]
    np.testing.assert_array_equal(recorder.start, [0.0, 2.0, np.nan])
    # busy 0..5 (2 + 3 s), request 1 queued 0.5..2 (1.5 job-seconds), peak 1
    assert (server.busy_area, server.queue_area, server.queue_peak) == (5.0, 1.5, 1)
    assert totals.jobs == 0


def test_server_crash_fails_what_it_holds_and_refuses_after_connect_timeout() -> None:
    # Request 0 (2 s) starts at 0, request 1 (2 s) queues at 0.25; crash at 1:
    # both fail at once, oldest job first. Request 2 arrives at 1.5 while down:
    # refused after the 1 s connect timeout, at 2.5.
    env = Loop()
    state, recorder = tables(3, 1)
    log: list[tuple[float, int, int, int]] = []
    totals = Totals()
    server = make_server(env, 0, state, recorder, [2.0, 2.0, 2.0], log, totals=totals)
    at(env, 0.0, lambda: server.accept(0))
    at(env, 0.25, lambda: server.accept(1 << ATTEMPT_BITS))
    at(env, 1.0, server.crash)
    at(env, 1.5, lambda: server.accept(2 << ATTEMPT_BITS))
    env.run()
    assert log == [
        (1.0, 0, 0, CONN_ERROR),
        (1.0, 1 << ATTEMPT_BITS, 0, CONN_ERROR),
        (2.5, 2 << ATTEMPT_BITS, 0, CONN_ERROR),
    ]
    assert totals.jobs == 0


class FirstUntried(BaseAlgorithm):
    """The lowest host not tried yet for this request."""

    def pick(self, request: Request) -> int | None:
        return next((h for h in range(len(self.backends)) if h not in request.tried), None)


def test_balancer_retries_on_another_host_after_the_backoff() -> None:
    # Two one-worker servers; web-0 is down. Retries: 1, on conn_error,
    # back-off base 0.5 s with every uniform 0.5, so the wait before retry 1
    # is 0.5 * min((2^1 - 1) * 0.5, 5) = 0.25 s.
    # Request 0 (2 s) at t=0 -> web-0, refused at 1 (connect timeout 1 s);
    #   retried at 1.25 on web-1 (tried = {0}), served 1.25..3.25.
    # Request 1 (1 s) at t=0.5 -> web-0, refused at 1.5; retried at 1.75 on
    #   web-1, queued behind request 0, served 3.25..4.25.
    env = Loop()
    state, recorder = tables(2, 2)
    log: list[tuple[float, int, int, int]] = []
    balancers: list[Balancer] = []
    servers = [
        make_server(env, i, state, recorder, [2.0, 1.0], log, lambda *a: balancers[0].complete(*a))
        for i in range(2)
    ]
    servers[0].up = False
    backends = HostSet(["web-0", "web-1"], [1, 1])
    retrying = clients(retries={"max": 1, "retry_on": ["conn_error"], "backoff": {"base": 0.5}})
    totals = Totals()
    balancer = Balancer(
        env,
        0,
        backends,
        FirstUntried(backends, np.random.default_rng(0), Params()),
        servers,
        backup=[False, False],
        panic_threshold=0.0,
        fail_open=False,
        all_backups=False,
        connect_timeout=1.0,
        clients=retrying,
        recorder=recorder,
        state=state,
        keys=column(np.array([10, 11], dtype=np.int64)),
        client_ids=column(np.array([0, 1], dtype=np.int32)),
        rng=Halves(),  # type: ignore[arg-type]
        totals=totals,
    )
    balancers.append(balancer)
    outcomes: list[tuple[float, int, int]] = []
    again: list[tuple[float, int, int]] = []  # a second listener hears the same
    balancer.outcome_listeners.append(lambda b, s: outcomes.append((env.now, b, s)))
    balancer.outcome_listeners.append(lambda b, s: again.append((env.now, b, s)))
    at(env, 0.0, lambda: balancer.dispatch(0))
    at(env, 0.5, lambda: balancer.dispatch(1))
    env.run()
    assert outcomes == [(1.0, 0, CONN_ERROR), (1.5, 0, CONN_ERROR), (3.25, 1, OK), (4.25, 1, OK)]
    assert again == outcomes
    assert log == [
        (1.0, 0 << ATTEMPT_BITS | 0, 0, CONN_ERROR),
        (1.5, 1 << ATTEMPT_BITS | 0, 0, CONN_ERROR),
        (3.25, 0 << ATTEMPT_BITS | 1, 1, OK),
        (4.25, 1 << ATTEMPT_BITS | 1, 1, OK),
    ]
    np.testing.assert_array_equal(recorder.start, [1.25, 3.25])
    np.testing.assert_array_equal(recorder.sent, [1.25, 1.75])
    np.testing.assert_array_equal(recorder.end, [3.25, 4.25])
    np.testing.assert_array_equal(recorder.columns["latency_backoff"], [0.25, 0.25])
    assert recorder.status.tolist() == [OK, OK] and recorder.retries.tolist() == [1, 1]
    assert (totals.outstanding, totals.pending_retries, totals.jobs) == (0, 0, 0)
    assert backends.outstanding == [0, 0]


def test_prober_marks_a_crashed_server_down_and_back_up() -> None:
    # ALB rule, interval 4 s, timeout 1 s, 2 failures down, 2 successes up,
    # no jitter. A new target starts unhealthy and one pass suffices.
    # t=0 pass -> marked up (a recovery); next probes at 4 (pass), 8.
    # Crash at 5: the probe of 8 fails at 9 (timeout), count 1; the probe of
    # 9 + 4 = 13 fails at 14, count 2 -> marked down; next at 18.
    # Recover at 15: 18 passes (count 1), 22 passes -> marked up.
    env = Loop()
    state, recorder = tables(0, 1)
    server = make_server(env, 0, state, recorder, [], [])
    backends = HostSet(["web-0"], [1])
    balancer = Balancer(
        env,
        0,
        backends,
        FirstUntried(backends, np.random.default_rng(0), Params()),
        [server],
        backup=[False],
        panic_threshold=0.0,
        fail_open=False,
        all_backups=False,
        connect_timeout=1.0,
        clients=clients(),
        recorder=recorder,
        state=state,
        keys=column(np.zeros(0, dtype=np.int64)),
        client_ids=column(np.zeros(0, dtype=np.int32)),
        rng=np.random.default_rng(0),
    )
    recovered: list[tuple[float, int]] = []
    balancer.recovery_listeners.append(lambda b: recovered.append((env.now, b)))
    check = HealthCheck(
        preset="alb", interval=4.0, timeout=1.0, unhealthy_threshold=2, healthy_threshold=2
    )
    prober = Prober(env, server, balancer, check, recorder, 1, lambda: env.now < 22)
    balancer.set_initial_health([prober.healthy])
    assert backends.available == [False]
    at(env, 5.0, server.crash)
    at(env, 15.0, server.recover)
    env.run(until=30)
    assert [(e.time, e.kind) for e in recorder.events] == [
        (0.0, "marked_up"),
        (14.0, "marked_down"),
        (22.0, "marked_up"),
    ]
    assert recovered == [(0.0, 0), (22.0, 0)]
    assert backends.available == [True]
