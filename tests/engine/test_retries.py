"""Timeouts, retries, and balancers that fail."""

from __future__ import annotations

import numpy as np
import pytest

import lbsim
from tests.conftest import cluster


def test_retries_turn_connection_errors_into_successes_when_capacity_allows() -> None:
    crash = [{"at": "5m", "target": "web-0", "action": "crash", "for": "10m"}]
    plain = lbsim.run(cluster(events=crash, balancer={"connect_timeout": "1s"}))
    retried = lbsim.run(
        cluster(
            events=crash,
            balancer={"connect_timeout": "1s"},
            **{"clients.retries": {"max": 3}},
        )
    )
    before = plain.summary["conn_error_rate"].iloc[0]
    # Round robin sends every 4th request to web-0, dead for a third of the
    # run: expected rate 1/12 (plus ~1 request in its queue at the crash).
    # The rate is X/Y, X = N_crash/4, Y = N_crash + N_rest, N_crash ~
    # Poisson(1200) and N_rest ~ Poisson(2400): by the delta method
    # var = (1200 (1/4 - 1/12)² + 2400 (1/12)²)/3600² = 50/3600², SE 0.002;
    # within 5 SE = 0.01: catches a crash window 12 % too long or short.
    assert before == pytest.approx(1 / 12, abs=0.01)
    # a retry is balanced anew: round robin usually moves on to a live server;
    # all four attempts land on the dead one for about (1/4)³ of the ~300
    # failed first attempts (~5 requests, rate 0.0013), while before/20 is
    # ~15 requests, 4.5 Poisson sd above that.
    assert retried.summary["conn_error_rate"].iloc[0] < before / 20
    # every failed first attempt is retried at least once: amplification
    # at least 1 + 1/12, less the 5 SE above
    assert retried.summary["retry_amplification"].iloc[0] > 1 + 1 / 12 - 0.01
    retried_requests = retried.requests[retried.requests["retries"] > 0]
    assert (retried_requests["status"] == "ok").mean() > 0.99


def test_retries_without_redispatch_go_back_to_the_same_server() -> None:
    crash = [{"at": "5m", "target": "web-0", "action": "crash", "for": "10m"}]
    data = cluster(
        events=crash,
        balancer={"connect_timeout": "1s"},
        **{"clients.retries": {"max": 2, "redispatch": False}},
    )
    result = lbsim.run(data)
    failed = result.requests[result.requests["status"] == "conn_error"]
    assert len(failed) > 0 and (failed["retries"] == 2).all()


def test_envoy_backoff_bounds() -> None:
    # Retry N waits uniformly in [0, (2^N - 1) * 25ms), capped at 250 ms.
    data = cluster(
        events=[
            {"at": 0, "target": f"web-{i}", "action": "error_rate", "rate": 1.0} for i in range(4)
        ],
        **{"clients.retries": {"max": 5, "retry_on": ["server_error"]}},
    )
    result = lbsim.run(data)
    requests = result.requests
    assert (requests["status"] == "server_error").all()
    assert (requests["retries"] == 5).all()
    # each attempt takes 1 ms (a quick 5xx); the back-offs add at most
    # b = 25 + 75 + 175 + 250 + 250 ms and on average half of that. Their sum
    # has variance Σ b²/12 = (116 ms)²; over n ≈ 3600 requests the mean has
    # SE 116/sqrt(n) ≈ 1.9 ms. Within 5 SE ≈ 9.7 ms (2.5 % of 387.5 ms):
    # catches e.g. a cap of 240 ms instead of 250 (10 ms lower mean).
    bounds = np.array([0.025, 0.075, 0.175, 0.25, 0.25])
    spent = requests["latency"] - 6 * 0.001
    assert spent.max() < bounds.sum()
    se = np.sqrt((bounds**2).sum() / 12 / len(spent))
    assert spent.mean() == pytest.approx(bounds.sum() / 2, abs=5 * se)


def test_retries_amplify_load_under_overload_and_a_budget_limits_them() -> None:
    # 4 servers at 150 % load with bounded queues: rejections are retried.
    overload = {
        "clients.arrivals.rate": 6.0,
        "servers.0.queue_limit": 2,
        "clients.timeout": "10s",
    }
    without = lbsim.run(cluster(**overload, **{"clients.retries": {"max": 3}}))
    budget = lbsim.run(
        cluster(**overload, **{"clients.retries": {"max": 3, "budget": {"percent": 20}}})
    )
    amplification = without.summary["retry_amplification"].iloc[0]
    assert amplification > 1.3
    assert budget.summary["retry_amplification"].iloc[0] < amplification


def test_overall_timeout_ends_requests_and_the_work_is_wasted() -> None:
    data = cluster(**{"clients.arrivals.rate": 3.9, "clients.timeout": "5s"})
    result = lbsim.run(data)
    summary = result.summary.iloc[0]
    timed_out = result.requests[result.requests["status"] == "timeout"]
    assert summary["timeout_rate"] > 0.01
    assert np.allclose(timed_out["latency"], 5.0)
    ok = result.requests[result.requests["status"] == "ok"]
    assert ok["latency"].max() <= 5.0
    # servers finished work for clients that had gone
    assert summary["wasted_rate"] > 0


def test_per_try_timeout_then_retry() -> None:
    data = cluster(
        **{
            "clients.service": {"dist": "deterministic", "value": 0.5},
            "clients.per_try_timeout": "1s",
            "clients.retries": {"max": 1, "retry_on": ["timeout"]},
        },
        events=[{"at": "5m", "target": "web-1", "action": "hang", "for": "5m"}],
    )
    result = lbsim.run(data)
    hung = result.requests[(result.requests["arrival"] > 300) & (result.requests["arrival"] < 590)]
    retried = hung[hung["retries"] == 1]
    assert len(retried) > 0
    elsewhere = retried[retried["server"] != "web-1"]  # round robin may pick web-1 again
    # about 3/4 of the ~145 retries go elsewhere (binomial SE 0.036): 0.5 is
    # 7 SE below, failing only if retries stick to the hung server
    assert len(elsewhere) > 0.5 * len(retried)
    assert (elsewhere["status"] == "ok").all()
    assert (elsewhere["latency"] >= 1.5).all()  # 1 s lost on the hung server, then 0.5 s of work


def test_active_passive_failover_loses_requests_only_in_the_takeover_window() -> None:
    data = cluster(
        balancer={
            "instances": 2,
            "mode": "active_passive",
            "failover_time": "3s",
            "connect_timeout": "1s",
        },
        events=[{"at": "10m", "target": "lb-0", "action": "crash"}],
        **{"clients.arrivals.rate": 20.0, "clients.service": {"dist": "exponential", "mean": 0.1}},
    )
    result = lbsim.run(data)
    failed = result.requests[result.requests["status"] != "ok"]
    assert len(failed) > 0
    assert failed["arrival"].between(599.0, 603.0).all()  # in flight at the crash, or in 3 s
    takeover = result.events[result.events["kind"] == "takeover"]
    assert list(takeover["time"]) == [603.0]
    after = result.requests[result.requests["arrival"] > 603]
    assert (after["balancer"] == 1).all() and (after["status"] == "ok").all()


@pytest.mark.slow
def test_least_connections_degrades_behind_many_balancers() -> None:
    # Each instance counts only its own outstanding requests (Envoy's
    # per-worker balancers), so with many instances least_connections
    # approaches random, while with one it sees every request.
    def mean_latency(instances: int) -> float:
        data = cluster(
            duration="2h",
            balancer={"algorithm": "least_connections", "instances": instances},
            **{"clients.arrivals.rate": 8 * 0.9, "servers.0.count": 8},
        )
        return float(lbsim.run(data).summary["latency_mean"].iloc[0])

    assert mean_latency(16) > 1.5 * mean_latency(1)


def test_haproxy_redispatch_on_the_last_retry() -> None:
    crash = [{"at": "5m", "target": "web-0", "action": "crash", "for": "10m"}]
    data = cluster(
        events=crash,
        balancer={"connect_timeout": "1s"},
        **{"clients.retries": {"max": 3, "redispatch": "last"}},
    )
    requests = lbsim.run(data).requests
    # retries 1 and 2 go back to the dead server; the third is balanced anew.
    # Requests sent in the last 3 s of the crash may see web-0 back for a resend.
    hit = requests[(requests["retries"] > 0) & (requests["arrival"] < 15 * 60 - 3)]
    assert len(hit) > 0
    assert set(hit["retries"]) == {3}
    assert (hit["status"] == "ok").mean() > 0.7


def test_each_balancer_instance_has_its_own_view_over_time() -> None:
    from lbsim.report.plots import health_over_time

    data = cluster(
        balancer={
            "instances": 2,
            "health_check": {"preset": "haproxy", "interval": "1s", "timeout": "500ms"},
        },
        events=[
            {"at": "5m", "target": "lb-1", "action": "crash", "for": "5m"},
            {"at": "15m", "target": "web-0", "action": "crash", "for": "5m"},
        ],
    )
    result = lbsim.run(data)
    views = result.balancers
    assert set(views["balancer"]) == {"lb-0", "lb-1"}
    lb1 = views[views["balancer"] == "lb-1"]
    dead = lb1[(lb1["time"] > 300) & (lb1["time"] < 600)]
    assert (dead["in_rotation"] == 0).all() and not dead["up"].any()
    lb0 = views[views["balancer"] == "lb-0"]
    # both instances detect web-0's crash with their own checks
    for view in (lb0, lb1):
        during = view[(view["time"] > 920) & (view["time"] < 1200)]
        assert (during["in_rotation"] == 3).all()
    fig = health_over_time(result)
    gids = {line.get_gid() for line in fig.axes[0].get_lines() if line.get_label() == "test"}
    assert {"up", "in_rotation:lb-0", "in_rotation:lb-1"} <= gids
