"""Defects found in review, each pinned by the scenario that showed it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lbsim
from lbsim.engine.workload import arrival_times
from lbsim.scenario import Arrivals, ScenarioError, load
from tests.conftest import scenario

# Ten minutes of λ = 3/s, no warm-up (each test sets its servers and service).
SHORT = {"duration": "10m", "warmup": 0, "clients.arrivals.rate": 3.0}


def test_probes_of_several_balancers_through_one_queue() -> None:
    data = scenario(
        SHORT,
        **{"clients.service.mean": 0.5},
        servers=[{"name": "web", "count": 2, "workers": 2}],
        balancer={
            "instances": 2,
            "health_check": {"preset": "haproxy", "through_queue": True, "interval": "1s"},
        },
    )
    result = lbsim.run(data)  # used to raise KeyError: probe ids clashed
    assert result.summary["ok"].iloc[0] == result.summary["requests"].iloc[0]


def test_utilisation_counts_work_for_abandoned_attempts() -> None:
    # Two servers, overloaded 1.5x: they are busy all the time, whatever the
    # clients do. Per-try timeouts abandon most attempts; the work still
    # occupies the workers.
    data = scenario(
        SHORT,
        **{
            "clients.arrivals.rate": 3.0,
            "clients.per_try_timeout": "2s",
            "clients.retries": {"max": 2},
            "servers.0.count": 2,
        },
    )
    result = lbsim.run(data)
    assert result.summary["utilization_mean"].iloc[0] > 0.95
    requests = result.requests
    started = requests.dropna(subset=["start", "end"])
    ok = started[started["status"] == "ok"]
    assert (ok["start"] <= ok["end"]).all()
    assert (ok["wait"] >= 0).all()


def test_queue_statistics_ignore_connections_to_a_dead_server() -> None:
    data = scenario(
        SHORT,
        **{"clients.service": {"dist": "deterministic", "value": 0.01}, "servers.0.count": 2},
        events=[{"at": "2m", "target": "web-1", "action": "crash", "for": "5m"}],
    )
    summary = lbsim.run(data).summary.iloc[0]
    # 10 ms of work at 3/s never queues; conn_errors waiting out the connect
    # timeout are not in any server's queue
    assert summary["conn_error_rate"] > 0.2
    assert summary["queue_max"] <= 1 and summary["queue_mean"] < 1e-3


def test_queue_mean_is_the_time_average_of_the_sampled_queue() -> None:
    data = scenario(SHORT, duration="2h", **{"clients.arrivals.rate": 0.8, "sample_interval": "1s"})
    result = lbsim.run(data)
    sampled = result.timeseries["queue"].mean()
    # M/M/1 at ρ = 0.8: Lq = ρ²/(1-ρ) = 3.2; samples and integral agree closely
    assert result.summary["queue_mean"].iloc[0] == pytest.approx(sampled, rel=0.02)


@pytest.mark.parametrize(
    "events",
    [
        # the active instance dies while the standby is down; the standby comes back
        [
            {"at": "1m", "target": "lb-1", "action": "crash", "for": "1m"},
            {"at": "90s", "target": "lb-0", "action": "crash"},
        ],
        # the standby dies during the takeover; the first one comes back later
        [
            {"at": "1m", "target": "lb-0", "action": "crash", "for": "1m"},
            {"at": "61s", "target": "lb-1", "action": "crash"},
        ],
    ],
    ids=["standby-down-first", "standby-dies-in-takeover"],
)
def test_active_passive_pair_recovers_from_double_failures(events: list[dict[str, Any]]) -> None:
    data = scenario(
        SHORT,
        **{"servers.0.count": 4},
        balancer={"instances": 2, "mode": "active_passive", "failover_time": "3s"},
        events=events,
    )
    result = lbsim.run(data)
    late = result.requests[result.requests["arrival"] > 130]
    assert (late["status"] == "ok").all()  # someone holds the address again


def test_overall_timeouts_count_for_passive_checks() -> None:
    data = scenario(
        SHORT,
        **{"clients.timeout": "2s", "servers.0.count": 4},
        balancer={"passive": {"preset": "nginx"}},
        events=[{"at": "1m", "target": "web-1", "action": "hang", "for": "5m"}],
    )
    result = lbsim.run(data)
    assert (result.events["kind"] == "ejected").sum() > 0


def test_a_hung_server_answers_nothing_it_holds() -> None:
    data = scenario(
        SHORT,
        **{
            "clients.service": {"dist": "deterministic", "value": 2.0},
            "clients.arrivals": {"process": "deterministic", "rate": 2.0},
        },
        events=[{"at": 1.0, "target": "web-0", "action": "hang", "for": "1m"}],
    )
    requests = lbsim.run(data).requests
    held = requests[(requests["arrival"] > 0) & (requests["arrival"] < 61)]
    assert not (held["status"] == "ok").any()
    assert (held["status"] == "conn_error").all()  # failed when the process restarted


def test_set_weight_under_slow_start() -> None:
    data = scenario(
        SHORT,
        duration="20m",
        **{"servers.0.count": 2},
        balancer={
            "algorithm": "weighted_round_robin",
            "slow_start": {"preset": "envoy", "window": "10s"},
        },
        events=[{"at": "1m", "target": "web-0", "action": "set_weight", "weight": 4}],
    )
    requests = lbsim.run(data).requests
    after = requests[requests["arrival"] > 60]
    assert (after["server"] == "web-0").mean() == pytest.approx(0.8, abs=0.01)


def test_slow_start_is_refused_with_hashing() -> None:
    with pytest.raises(ScenarioError, match="slow_start does not apply to ip_hash"):
        load(
            data=scenario(SHORT, balancer={"algorithm": "ip_hash", "slow_start": {"window": "10s"}})
        )


def test_deterministic_profile_with_a_tiny_slope_is_exact() -> None:
    arrivals = Arrivals.model_validate(
        {
            "process": "deterministic",
            "profile": [{"at": 0, "rate": 100}, {"at": 1000, "rate": 100.00002}],
        }
    )
    times = arrival_times(arrivals, 100.0, np.random.default_rng(0))
    gaps = np.diff(times)
    assert np.allclose(gaps, 0.01, rtol=1e-6)
    assert times.max() < 100.0


def test_clear_messages_for_bad_indices_and_late_events() -> None:
    with pytest.raises(ScenarioError, match=r"index 5 is out of range \(1 item"):
        load(data=scenario(SHORT), overrides={"servers.5.count": 3})
    with pytest.raises(ScenarioError, match="after the run ends"):
        load(data=scenario(SHORT, events=[{"at": "1h", "target": "web-0", "action": "crash"}]))
    with pytest.raises(ScenarioError) as caught:
        load(data=scenario(SHORT, **{"servers.0.count": -2}))
    assert len(caught.value.problems) == 1
    with pytest.raises(ScenarioError, match=r"unknown target 'web-1'.*\(in variant count=1\)"):
        load(
            data=scenario(
                SHORT,
                events=[{"at": 5, "target": "web-1", "action": "crash"}],
                compare={"servers.0.count": [1, 2]},
                **{"servers.0.count": 2},
            )
        )


def test_first_backup_only_unless_all_backups() -> None:
    def spares(all_backups: bool) -> set[str]:
        data = scenario(
            SHORT,
            servers=[{"name": "web", "count": 1}, {"name": "spare", "count": 2, "backup": True}],
            balancer={
                "health_check": {"preset": "haproxy", "interval": "1s", "timeout": "500ms"},
                "all_backups": all_backups,
            },
            events=[{"at": "1m", "target": "web-0", "action": "crash", "for": "5m"}],
        )
        served = lbsim.run(data).requests["server"].dropna().astype(str)
        return {s for s in served if s.startswith("spare")}

    assert spares(False) == {"spare-0"}
    assert spares(True) == {"spare-0", "spare-1"}
