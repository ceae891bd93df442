"""Passive health checks and slow start."""

from __future__ import annotations

import pytest

import lbsim
from lbsim.engine.slowstart import weight_factor
from lbsim.scenario import ScenarioError, SlowStart, load
from tests.conftest import event_times, scenario

# Eight servers at ρ = 6 × 0.5 / 8 = 0.375, twenty minutes, no warm-up.
PASSIVE = {
    "duration": "20m",
    "warmup": 0,
    "clients.arrivals.rate": 6.0,
    "servers.0.count": 8,
    "clients.service": {"dist": "exponential", "mean": 0.5},
}


def test_envoy_outlier_ejection_follows_the_documented_schedule() -> None:
    # web-1 answers every request with a 5xx from 5m to 13m. Envoy ejects it
    # at the 5th consecutive 5xx for base_ejection_time x (times ejected),
    # and returns it at the first interval tick (every 10 s) after that.
    data = scenario(
        PASSIVE,
        balancer={"passive": {"preset": "envoy"}},
        events=[{"at": "5m", "target": "web-1", "action": "error_rate", "rate": 1.0, "for": "8m"}],
    )
    result = lbsim.run(data)
    ejected = event_times(result, "ejected")
    returned = event_times(result, "returned")
    assert len(ejected) >= 4
    for times_ejected, (out, back) in enumerate(zip(ejected, returned, strict=False), start=1):
        due = out + min(30.0 * times_ejected, 300.0)
        assert back >= due and back - due < 10.0  # the first tick at or after the due time
        assert back % 10.0 == pytest.approx(0.0, abs=1e-9)
    # while ejected, nothing is sent to it
    to_web1 = result.requests[result.requests["server"] == "web-1"]["arrival"]
    for out, back in zip(ejected, returned, strict=False):
        assert not to_web1.between(out + 1e-9, back - 1e-9).any()


def test_envoy_max_ejection_percent_allows_at_least_one_host() -> None:
    failing = [
        {"at": "2m", "target": f"web-{i}", "action": "error_rate", "rate": 1.0} for i in range(3)
    ]
    result = lbsim.run(scenario(PASSIVE, balancer={"passive": {"preset": "envoy"}}, events=failing))
    # 10 % of 8 hosts is 0.8: only one host may be ejected at a time
    changes = result.events[result.events["kind"].isin(["ejected", "returned"])]
    at_once = (changes["kind"] == "ejected").astype(int) - (changes["kind"] == "returned")
    assert at_once.cumsum().max() == 1
    assert len(set(changes["target"])) > 1  # the one slot passes between the failing hosts


def test_envoy_success_rate_ejection() -> None:
    # A host failing 30 % of requests is a success-rate outlier among eight
    # (needs 100 requests per 10 s interval: 120/s over 8 hosts gives 150).
    data = scenario(
        PASSIVE,
        **{
            "clients.arrivals.rate": 120.0,
            "clients.service": {"dist": "exponential", "mean": 0.05},
        },
        balancer={"passive": {"preset": "envoy", "consecutive_5xx": 1000}},
        events=[{"at": "2m", "target": "web-4", "action": "error_rate", "rate": 0.3}],
    )
    result = lbsim.run(data)
    reasons = result.events[result.events["kind"] == "ejected"]
    assert set(reasons["target"]) == {"web-4"}
    assert reasons["detail"].str.startswith("success_rate").all()


def test_nginx_max_fails_skips_a_failing_peer_for_fail_timeout() -> None:
    data = scenario(
        PASSIVE,
        balancer={
            "passive": {"preset": "nginx", "max_fails": 2, "fail_timeout": "10s"},
            "connect_timeout": "1s",
        },
        events=[{"at": "5m", "target": "web-3", "action": "crash", "for": "2m"}],
    )
    result = lbsim.run(data)
    ejected = event_times(result, "ejected")
    returned = event_times(result, "returned")
    assert ejected and returned
    # every return is at least fail_timeout after the ejection
    assert all(back - out >= 10.0 for out, back in zip(ejected, returned, strict=False))
    # 5xx answers do not count in NGINX's default (error timeout)
    flaky = scenario(
        PASSIVE,
        balancer={"passive": {"preset": "nginx"}},
        events=[{"at": "5m", "target": "web-3", "action": "error_rate", "rate": 1.0}],
    )
    assert not event_times(lbsim.run(flaky), "ejected")


def test_haproxy_observe_marks_down_after_error_limit() -> None:
    data = scenario(
        PASSIVE,
        balancer={
            "health_check": {"preset": "haproxy", "interval": "30s", "timeout": "1s"},
            "passive": {"preset": "haproxy", "error_limit": 5, "on_error": "mark-down"},
        },
        events=[{"at": "5m", "target": "web-2", "action": "error_rate", "rate": 1.0, "for": "2m"}],
    )
    result = lbsim.run(data)
    marks = result.events[result.events["kind"] == "observe_error"]
    down = event_times(result, "marked_down")
    assert len(marks) >= 1 and down
    assert down[0] == marks["time"].iloc[0]  # marked down by traffic, not by a probe


def test_haproxy_observe_needs_haproxy_checks() -> None:
    with pytest.raises(ScenarioError, match="needs health_check preset haproxy"):
        load(data=scenario(PASSIVE, balancer={"passive": {"preset": "haproxy"}}))


def test_envoy_slow_start_weights_golden() -> None:
    config = SlowStart(preset="envoy", window=60.0, aggression=2.0, min_weight_percent=10.0)
    # max(0.1, (t/60)^(1/2))
    assert [round(weight_factor(config, t), 4) for t in (0, 0.3, 15, 30, 60, 90)] == [
        0.1,
        0.1,
        0.5,
        0.7071,
        1.0,
        1.0,
    ]


def test_haproxy_slow_start_weights_golden() -> None:
    config = SlowStart(preset="haproxy", window=32.0)
    # (16 * floor(t) + 32) // 32 sixteenths, at most 16
    assert [weight_factor(config, t) * 16 for t in (0, 1.9, 2, 10, 31, 40)] == [1, 1, 2, 6, 16, 16]


def test_slow_start_ramps_the_share_of_a_returning_server() -> None:
    data = scenario(
        PASSIVE,
        **{"servers.0.count": 4, "clients.arrivals.rate": 3.0},
        balancer={
            "algorithm": "weighted_round_robin",
            "health_check": {"preset": "haproxy", "interval": "1s", "timeout": "1s"},
            "slow_start": {"preset": "alb", "window": "60s"},
        },
        events=[{"at": "5m", "target": "web-1", "action": "crash", "for": "2m"}],
    )
    result = lbsim.run(data)
    start = event_times(result, "slow_start")[0]
    requests = result.requests

    def share(lo: float, hi: float) -> float:
        window = requests[(requests["arrival"] >= start + lo) & (requests["arrival"] < start + hi)]
        return float((window["server"] == "web-1").mean())

    # linear ramp: about w/(3+w) with w the ramp fraction; full share 1/4 after the window
    assert share(0, 15) < 0.1
    assert share(0, 15) < share(30, 45) < share(60, 120)
    assert share(60, 120) == pytest.approx(0.25, abs=0.02)
