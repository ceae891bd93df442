"""Costs that must not grow with the cluster (issue 14 §2): level sampling
kept incrementally, timer lists that drop deadlines nobody waits for, a
drain sampled no more often than the run."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from lbsim.engine import loop, sampler
from lbsim.engine.records import TIMEOUT
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load
from tests.conftest import cluster

FAULTS = cluster(
    duration="3m",
    **{
        "clients.arrivals.rate": 3.0,
        "clients.timeout": "8s",
        "clients.per_try_timeout": "3s",
        "clients.retries": {"max": 2, "retry_on": ["timeout", "conn_error", "rejected"]},
        "servers.0.queue_limit": 4,
        "balancer": {"algorithm": "least_connections", "health_check": {"preset": "haproxy"}},
        "events": [
            {"at": "30s", "target": "web-1", "action": "crash", "for": "40s"},
            {"at": "90s", "target": "web-2", "action": "hang", "for": "30s"},
            {"at": "130s", "target": "web-3", "action": "drain", "for": "30s"},
        ],
    },
)
INSTANCES = cluster(
    duration="3m",
    **{
        "clients.arrivals.rate": 3.0,
        "balancer": {"algorithm": "round_robin", "instances": 2, "mode": "active_passive"},
        "events": [{"at": "60s", "target": "lb-0", "action": "crash", "for": "30s"}],
    },
)
LAYER7 = cluster(
    duration="2m",
    **{
        "clients.arrivals.rate": 3.0,
        "clients.timeout": "2s",
        "balancer": {"algorithm": "least_connections", "layer": 7, "cpu": {"workers": 1}},
    },
)
CONNECTIONS = cluster(
    duration="3m",
    **{
        "clients.count": 20,
        "clients.arrivals.rate": 0.5,
        "clients.connections": {"websocket": {"duration": "40s", "message_rate": "0.1/s"}},
        "balancer": {"algorithm": "least_connections", "connections": {"max_lifetime": "30s"}},
    },
)


@pytest.mark.parametrize(
    "data", [FAULTS, INSTANCES, LAYER7, CONNECTIONS], ids=["faults", "instances", "l7", "ws"]
)
def test_incremental_levels_are_those_of_a_full_read(
    data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # every sample of the incremental sampler equals reading every server
    # and every balancer then, through crashes, hangs, drains, timeouts,
    # retries, a balancer crash, a balancer CPU and pinned connections
    incremental = sampler.LevelSampler.sample
    seen = []

    def checked(self: sampler.LevelSampler) -> tuple[np.ndarray, np.ndarray]:
        levels, views = incremental(self)
        full = sampler.scan(self.servers, self.balancers, self.instances, self.fronts)
        np.testing.assert_array_equal(levels, full[0])
        np.testing.assert_array_equal(views, full[1])
        seen.append(levels[0].sum() + levels[2].sum())
        return levels, views

    monkeypatch.setattr(sampler.LevelSampler, "sample", checked)
    _world(data).run()
    assert len(seen) >= 50 and sum(seen) > 0  # sampled often, with work in flight


def _world(data: dict[str, Any]) -> World:
    scenario = load(data=data).base
    return World(scenario, draw_workload(scenario))


def test_timer_lists_keep_one_heap_entry_and_change_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # per-try and overall deadlines that almost never fire: one heap entry
    # per list, whatever the requests in flight; pruning the dead ones
    # changes no record (they would have fired doing nothing)
    data = cluster(
        duration="10m",
        **{
            "clients.timeout": "9s",
            "clients.per_try_timeout": "5s",
            "clients.retries": {"max": 1, "retry_on": ["timeout"]},
        },
    )
    pruned, fired = _run_counting(data)
    assert pruned.retries.sum() > 0 and (pruned.status == TIMEOUT).sum() > 0  # some did fire
    monkeypatch.setattr(loop.Timers, "__init__", _no_prune(loop.Timers))
    plain, every = _run_counting(data)
    for name in ("end", "status", "server", "retries", "start", "sent"):
        np.testing.assert_array_equal(pruned.columns[name], plain.columns[name])
    # without pruning every deadline is an event; with it, few are
    assert every >= 2 * len(plain.status) and fired < every / 3


def _run_counting(data: dict[str, Any]) -> tuple[Any, int]:
    """The records of a run and how many deadlines of its timer lists fell due."""
    world = _world(data)
    count = [0]
    for timers in (world.balancer._expiries, world.balancer._try_expiries):
        handler = timers.handler

        def counted(value: Any, handler: Any = handler) -> None:
            count[0] += 1
            handler(value)

        timers.handler = counted
    return world.run(), count[0]


def _no_prune(kind: type) -> Any:
    init = kind.__init__

    def without(self: Any, env: Any, delay: float, handler: Any, prune: Any = None) -> None:
        init(self, env, delay, handler, None)

    return without


def test_a_long_drain_is_sampled_no_more_often_than_the_run() -> None:
    # 10 s of arrivals and a 1,000 s drain a slow request keeps busy: the
    # default period (duration / 500) would take 50,000 drain samples
    data = cluster(
        duration="10s",
        drain="1000s",
        **{
            "clients.arrivals.rate": 2.0,
            "clients.service": {"dist": "deterministic", "value": "800s"},
        },
    )
    world = _world(data)
    world.run()
    times = np.asarray(world.recorder.sample_times)
    run, drain = times[times <= 10.0].size, times[times > 10.0].size
    assert run >= 50 and run - 1 <= drain <= run + 1 and times.max() > 900
    explicit = _world({**data, "sample_interval": "1s"})
    explicit.run()
    assert np.allclose(np.diff(explicit.recorder.sample_times), 1.0)  # an explicit period holds


def test_building_grows_linearly_with_the_cluster() -> None:
    # health checks (a prober per server, initial verdicts in one refresh)
    # and a hash ring: 4x the servers cost about 4x to build (16x if O(n^2));
    # CPU time, best of 2, so the other processes of a shared machine count less
    def build(servers: int) -> float:
        data = cluster(
            duration="1s",
            **{
                "servers.0.count": servers,
                "balancer": {"algorithm": "ring_hash", "health_check": {"preset": "haproxy"}},
            },
        )
        scenario = load(data=data).base
        workload = draw_workload(scenario)
        best = float("inf")
        for _ in range(2):
            started = time.process_time()
            World(scenario, workload)
            best = min(best, time.process_time() - started)
        return best

    assert build(1200) < 8 * build(300)


@pytest.mark.parametrize("prune", [False, True], ids=["every deadline", "pruned"])
def test_a_timer_list_fires_as_one_timeout_each_would(prune: bool) -> None:
    # 3,000 deadlines of one 7 s delay set at random moments among other
    # events (one heap entry each, as SimPy's Timeouts), with up to ~700
    # pending at once: the list's arrays double from 64 slots and move
    # their pending part forward many times. Every deadline fires at its own
    # time and in the order of its sequence number among all the events;
    # pruned, the deadlines marked dead are skipped and the rest unchanged.
    rng = np.random.default_rng(7)
    env = loop.Loop()
    dead = rng.random(3000) < 0.6
    order: list[tuple[str, int, float]] = []

    def fired(value: int) -> None:
        order.append(("deadline", value, env.now))

    def other(value: int) -> None:
        order.append(("other", value, env.now))

    def skip(values: Any, head: int, tail: int) -> int:
        while head < tail - 1 and dead[values[head]]:
            head += 1
        return head

    timers = loop.Timers(env, 7.0, fired, skip if prune else None)
    moments = np.cumsum(rng.exponential(0.01, 3000))

    def setter(value: int) -> None:
        timers.add(value)
        env.after(float(rng.uniform(0, 14)), other, value)  # events before and after it

    for value, moment in enumerate(moments.tolist()):
        env.after(moment, setter, value)
    env.run()

    # the reference: each deadline its own heap entry, at the same moments
    reference: list[tuple[str, int, float]] = []
    rng = np.random.default_rng(7)
    rng.random(3000)
    ref = loop.Loop()

    def ref_setter(value: int) -> None:
        ref.after(7.0, lambda v: reference.append(("deadline", v, ref.now)), value)
        ref.after(
            float(rng.uniform(0, 14)), lambda v: reference.append(("other", v, ref.now)), value
        )

    for value, moment in enumerate(np.cumsum(rng.exponential(0.01, 3000)).tolist()):
        ref.after(moment, ref_setter, value)
    ref.run()
    if prune:  # a dead deadline may be skipped (never the last one set)
        kept = {value for kind, value, _ in order if kind == "deadline"}
        assert kept >= {v for v in range(3000) if not dead[v]} | {2999}
        assert len(kept) < 2000  # most dead ones were skipped
        reference = [e for e in reference if e[0] == "other" or e[1] in kept]
    assert order == reference
