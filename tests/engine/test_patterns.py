"""Hedged and fan-out requests, and service time that grows with load.

Every expected value is derived by hand from the rule (lbsim.engine.hedging,
lbsim.engine.patterns, lbsim.engine.contention) on setups without queueing
or with a hand-traced queue, so each check is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

import lbsim
from lbsim.engine.contention import slowdown_table
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load
from lbsim.scenario.models import SlowdownPoint
from lbsim.streams import stream
from tests.conftest import scenario


def _world(data: dict) -> tuple[World, lbsim.Scenario]:
    config = load(data=data).variants[0].scenario
    return World(config, draw_workload(config)), config


# No queueing anywhere: one server with more workers than requests ever in flight.
WIDE = {"servers": [{"name": "web", "count": 1, "workers": 1000}], "warmup": 0}


def test_hedge_cap_is_exact_and_losers_are_cancelled() -> None:
    # 100 requests every 10 ms, each 50 ms of work; a backup is due 5 ms after
    # each arrival. Every first call is still running then, so the cap alone
    # decides: request i's backup goes out iff backups + 1 <= 0.25 (i + 1),
    # i.e. for i = 3, 7, 11, ...: floor(0.25 * 100) = 25 backups. Each backup
    # starts 5 ms later with the same 50 ms of work, so the first call always
    # wins and the backup is cut short after 45 ms of service.
    data = scenario(
        WIDE,
        duration="1s",
        **{
            "clients.arrivals": {"process": "deterministic", "rate": 100},
            "clients.service": {"dist": "deterministic", "value": 0.05},
            "clients.hedge": {"after": "5ms", "max_extra": 0.25},
        },
    )
    world, _ = _world(data)
    records = world.run()
    assert world._hedging is not None and world._hedging.backups == 25
    sent = np.flatnonzero(world._hedging.dispatched & world.calls.backup)
    assert world.calls.request[sent].tolist() == list(range(3, 100, 4))
    assert (records.status == 0).all()
    assert records.end - world.calls.requests.arrival == pytest.approx(0.05)
    assert records.extra.sum() == 25 and records.abandoned == 0
    # busy time, clipped to the window [0, 1 s]: 100 services of 50 ms and
    # 25 backups of 45 ms, less what falls after 1 s
    t = np.arange(100) / 100
    expected = np.sum(np.minimum(t + 0.05, 1) - t)
    expected += np.sum(np.minimum(t[3::4] + 0.05, 1) - np.minimum(t[3::4] + 0.005, 1))
    assert records.busy_area[0] == pytest.approx(expected)
    assert world.servers[0].busy == 0 and not world.servers[0].serving
    summary = lbsim.run(data).summary
    assert summary["extra_load"].iloc[0] == pytest.approx(0.25)


def test_backup_wins_when_it_answers_first() -> None:
    # Exponential work (mean 10 ms), a backup for every request still
    # pending 5 ms after arrival (max_extra 1). No queueing, so a request's
    # latency is min(D1, 5 ms + D2) when D1 > 5 ms, with D1 its own demand
    # and D2 its backup's (stream "hedge-demand"), and D1 otherwise; the
    # loser works until the winner answers.
    data = scenario(
        WIDE,
        duration="20s",
        drain="5s",
        **{
            "clients.arrivals": {"process": "poisson", "rate": 200},
            "clients.service": {"dist": "exponential", "mean": 0.01},
            "clients.hedge": {"after": "5ms", "max_extra": 1.0},
        },
    )
    world, config = _world(data)
    requests = world.calls.requests
    records = world.run()
    d1 = requests.demand
    d2 = config.clients.service.sample(stream(config.seed, "hedge-demand"), len(d1))
    hedged = d1 > 0.005
    latency = np.where(hedged, np.minimum(d1, 0.005 + d2), d1)
    assert records.end - requests.arrival == pytest.approx(latency, abs=1e-9)
    assert records.extra.tolist() == hedged.astype(int).tolist()
    # both copies run until the winner's answer: min(D1, 5 ms + D2) - 5 ms more
    end = requests.arrival + latency
    clip = np.minimum
    work = np.sum(clip(end, 20) - clip(requests.arrival, 20))
    work += np.sum((clip(end, 20) - clip(requests.arrival + 0.005, 20))[hedged])
    assert records.busy_area[0] == pytest.approx(work)
    backup_won = hedged & (0.005 + d2 < d1)
    assert 0 < backup_won.sum() < hedged.sum()
    assert (records.server >= 0).all() and (records.status == 0).all()


@pytest.mark.parametrize("quorum", [None, 3])
def test_fanout_latency_is_the_needed_leaf(quorum: int | None) -> None:
    # Five leaves per request, no queueing: leaf 0 has the request's own
    # demand, leaves 1-4 draw from stream "fanout-demand" (row-major), and the
    # request answers at the quorum-th fastest leaf (all five: the slowest).
    fanout = {"leaves": 5} if quorum is None else {"leaves": 5, "quorum": quorum}
    data = scenario(
        WIDE,
        duration="10s",
        drain="5s",
        **{
            "clients.arrivals": {"process": "poisson", "rate": 100},
            "clients.service": {"dist": "exponential", "mean": 0.01},
            "clients.fanout": fanout,
        },
    )
    world, config = _world(data)
    requests = world.calls.requests
    records = world.run()
    n = len(requests)
    leaves = np.empty((n, 5))
    leaves[:, 0] = requests.demand
    rng = stream(config.seed, "fanout-demand")
    leaves[:, 1:] = config.clients.service.sample(rng, n * 4).reshape(n, 4)
    needed = np.sort(leaves, axis=1)[:, (quorum or 5) - 1]
    assert records.end - requests.arrival == pytest.approx(needed, abs=1e-9)
    assert (records.extra == 4).all()


def test_slowdown_table_interpolates_and_holds() -> None:
    points = [SlowdownPoint(load=2, factor=1.0), SlowdownPoint(load=6, factor=3.0)]
    # held at 1.0 below load 2, then +0.5 per request up to 3.0 at load 6
    assert slowdown_table(points) == [1.0, 1.0, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_service_slows_with_the_load_at_its_start() -> None:
    # One worker; requests at 0, 1 ms and 2 ms, each 1 s of work; the factor
    # is 1 at load 1 and 3 at load 3 (2 at load 2). Request 0 starts alone
    # (load 1: 1 s, ends at 1 s); at 1 s request 1 starts with request 2
    # waiting (load 2: 2 s, ends at 3 s); request 2 then starts alone (load
    # 1: 1 s, ends at 4 s).
    data = scenario(
        duration="3ms",
        drain="10s",
        warmup=0,
        sample_interval="1s",  # the default, duration / 500, samples the drain 1.7M times
        **{
            "clients.arrivals": {"process": "deterministic", "rate": 1000},
            "clients.service": {"dist": "deterministic", "value": 1.0},
            "servers.0.slowdown": [{"load": 1, "factor": 1.0}, {"load": 3, "factor": 3.0}],
        },
    )
    world, _ = _world(data)
    records = world.run()
    assert records.end.tolist() == pytest.approx([1.0, 3.0, 4.0])


def test_a_slow_event_multiplies_the_curve() -> None:
    # The same three requests with web-0 slowed 2x from the start: 2, 4, 2 s.
    data = scenario(
        duration="3ms",
        drain="10s",
        warmup=0,
        sample_interval="1s",  # the default, duration / 500, samples the drain 1.7M times
        events=[{"at": 0, "target": "web-0", "action": "slow", "factor": 2}],
        **{
            "clients.arrivals": {"process": "deterministic", "rate": 1000},
            "clients.service": {"dist": "deterministic", "value": 1.0},
            "servers.0.slowdown": [{"load": 1, "factor": 1.0}, {"load": 3, "factor": 3.0}],
        },
    )
    world, _ = _world(data)
    assert world.run().end.tolist() == pytest.approx([2.0, 6.0, 8.0])


def test_hedge_and_fanout_together_are_refused() -> None:
    data = scenario(
        **{"clients.hedge": {"after": "10ms"}, "clients.fanout": {"leaves": 3}},
    )
    with pytest.raises(lbsim.ScenarioError, match="at most one of"):
        load(data=data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"clients.fanout": {"leaves": 3, "quorum": 5}}, "quorum \\(5\\) cannot exceed leaves"),
        ({"recovery": {"trigger_start": "10m", "trigger_end": "2h"}}, "before the end of arrivals"),
        ({"recovery": {"trigger_start": "1m", "trigger_end": "10m"}}, "after the warm-up"),
        ({"servers.0.slowdown": [{"load": 5, "factor": 2}, {"load": 5, "factor": 3}]}, "strictly"),
    ],
)
def test_bad_pattern_settings_are_named(changes: dict, message: str) -> None:
    with pytest.raises(lbsim.ScenarioError, match=message):
        load(data=scenario(**changes))
