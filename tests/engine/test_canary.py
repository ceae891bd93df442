"""Canary versions: the weighted split, timeline shifts, automatic rollback,
and whether outlier detection catches a canary with 5% errors."""

from __future__ import annotations

from typing import Any

import numpy as np

import lbsim
from tests.conftest import event_times, scenario

CANARY: dict[str, Any] = {
    "balancer": {},
    "duration": "100s",
    "warmup": 0,
    "clients.arrivals.rate": 200.0,
    "clients.service": {"dist": "exponential", "mean": 0.01},
    "servers": [{"name": "stable", "count": 4}, {"name": "canary", "count": 2}],
    "pools": [
        {
            "name": "api",
            "versions": [
                {"name": "stable", "servers": ["stable"], "weight": 80},
                {"name": "canary", "servers": ["canary"], "weight": 20},
            ],
        }
    ],
    "balancer.routes": [{"pool": "api"}],
}


def test_versions_split_by_weight_and_serve_only_their_servers() -> None:
    requests = lbsim.run(scenario(CANARY)).requests
    n = len(requests)
    canary = requests["version"] == 1
    # binomial(n ≈ 20000, 0.2): 4 se = 4·sqrt(n·0.16) ≈ 226, a share off by 1.1 points
    assert abs(canary.sum() - 0.2 * n) < 4 * np.sqrt(n * 0.2 * 0.8)
    group = requests["server"].astype(str).str.rsplit("-", n=1).str[0]
    assert set(group[canary]) == {"canary"} and set(group[~canary]) == {"stable"}


def test_a_shift_moves_the_weight_step_by_step() -> None:
    data = scenario(CANARY)
    data["events"] = [
        {
            "at": "20s",
            "target": "api",
            "action": "shift",
            "version": "canary",
            "percent": 60,
            "steps": 4,
            "every": "10s",
        }
    ]
    result = lbsim.run(data)
    assert event_times(result, "shift", "api") == [20.0, 30.0, 40.0, 50.0]
    details = list(result.events.loc[result.events["kind"] == "shift", "detail"])
    assert details == ["canary=30%", "canary=40%", "canary=50%", "canary=60%"]
    requests = result.requests
    late = requests[requests["arrival"] >= 50]
    n = len(late)  # ≈ 10000: 4 se of a binomial share = 4·sqrt(.24/n) ≈ 2 points
    assert abs((late["version"] == 1).mean() - 0.6) < 4 * np.sqrt(0.24 / n)


def test_rollback_fires_within_the_window_and_stops_canary_traffic() -> None:
    # The canary turns bad at 30 s (half its answers fail). The window's
    # error rate then grows by about 0.5 / window per second, so it passes
    # the 5% threshold about a tenth of a window later: the rule must fire
    # after 30 s and before 30 s + window, and no request is sent to the
    # canary after it fired.
    window = 20.0
    data = scenario(
        CANARY,
        **{"pools.0.rollback": {"error_rate": 0.05, "window": f"{window}s", "min_requests": 50}},
    )
    data["events"] = [
        {"at": "30s", "target": f"canary-{i}", "action": "error_rate", "rate": 0.5}
        for i in range(2)
    ]
    result = lbsim.run(data)
    [fired] = event_times(result, "rollback", "api")
    assert 30.0 < fired <= 30.0 + window
    requests = result.requests
    assert not ((requests["arrival"] > fired) & (requests["version"] == 1)).any()
    assert ((requests["arrival"] < fired) & (requests["version"] == 1)).any()


def test_outlier_detection_misses_a_canary_cluster_but_catches_a_mixed_pool() -> None:
    """A canary with 5% errors, Envoy outlier detection on (defaults:
    consecutive_5xx 5, success rate enforced). Five 5xx in a row happen with
    probability 0.05^5 ≈ 3e-7 per request, so only the success-rate rule can
    act. As its own cluster (weighted_clusters) the canary's two hosts are
    below success_rate_minimum_hosts (5) and are compared with nobody:
    nothing is ejected. Mixed into one cluster of 9 stable hosts + 1 canary,
    the rule compares it with them: mean SR 0.995, population stdev 0.015,
    threshold 0.995 − 1.9·0.015 = 0.9665 > 0.95, so the canary (and only it)
    is ejected. (With 5 + 5 hosts the mean is 0.975, stdev 0.025, threshold
    0.9275 < 0.95: a canary half the pool would survive.)"""
    passive = {"preset": "envoy"}
    own = scenario(CANARY, **{"pools.0.versions.1.error_rate": 0.05, "balancer.passive": passive})
    own["duration"] = "200s"
    assert event_times(lbsim.run(own), "ejected") == []
    mixed = scenario(
        **{
            "balancer": {"passive": passive},
            "duration": "200s",
            "warmup": 0,
            "clients.arrivals.rate": 400.0,
            "clients.service": {"dist": "exponential", "mean": 0.01},
            "servers": [{"name": "stable", "count": 9}, {"name": "canary", "count": 1}],
        }
    )
    mixed["events"] = [{"at": 0, "target": "canary-0", "action": "error_rate", "rate": 0.05}]
    events = lbsim.run(mixed).events
    ejected = events[events["kind"] == "ejected"]
    assert set(ejected["target"]) == {"canary-0"}
