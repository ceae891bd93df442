"""client_side_weighted_round_robin (Envoy ORCA weights), derived by hand from
lbsim/algorithms/policies/client_side_wrr.py, and its load reports in a run."""

from __future__ import annotations

from collections import Counter

import numpy as np

import lbsim
from lbsim.algorithms import HostSet, RequestView, available
from lbsim.algorithms.policies.client_side_wrr import (
    ClientSideWeightedRoundRobin,
    ClientSideWrrParams,
    orca_weight,
)
from tests.conftest import scenario


def test_envoy_defaults_and_weight_rule() -> None:
    p = ClientSideWrrParams()
    assert (p.blackout_period, p.weight_expiration_period, p.weight_update_period) == (10, 180, 1)
    assert p.error_utilization_penalty == 1.0
    assert orca_weight(100, 0.5, 0, 1.0) == 200  # 100 / 0.5
    assert orca_weight(100, 0.25, 10, 1.0) == 285  # 100 / (0.25 + 10/100) = 285.7, truncated
    assert orca_weight(100, 0.25, 10, 0.0) == 400  # no penalty
    assert orca_weight(0.5, 0.9, 0, 1.0) == 1  # 0.56 truncates to 0: clamped to 1
    assert orca_weight(0, 0.5, 0, 1.0) is None and orca_weight(5, 0, 0, 1.0) is None


def test_blackout_median_and_expiry() -> None:
    hosts = HostSet(["a", "b", "c"], [1, 1, 1])
    spec = available()["client_side_weighted_round_robin"]
    alg = spec.factory(hosts, np.random.default_rng(0), spec.params())
    assert isinstance(alg, ClientSideWeightedRoundRobin)
    now = [0.0]
    alg.clock = lambda: now[0]
    alg.on_load_report(0, 0.5, 100, 0)  # weight 200, non-empty since 0
    alg.on_load_report(1, 0.25, 100, 10)  # weight 285
    alg.on_load_report(2, 0.5, 0, 0)  # qps 0: invalid, ignored
    now[0] = 5.0
    alg.tick()  # blackout: 0 > 5 - 10; nothing valid -> every host 1
    assert alg.view.weights == [1, 1, 1]
    now[0] = 10.0
    alg.tick()  # 0 <= 10 - 10: hosts 0, 1 valid; host 2 the upper median of [200, 285]
    assert alg.view.weights == [200, 285, 285]
    # EDF over weights 200 : 285 : 285 gives each w_i picks (± 1) per 770
    counts = Counter(alg.pick(RequestView(0)) for _ in range(770))
    assert all(abs(counts[h] - w) <= 1 for h, w in enumerate([200, 285, 285]))
    now[0] = 200.0
    alg.tick()  # last reports at 0 < 200 - 180: expired -> 1 each, non-empty reset
    assert alg.view.weights == [1, 1, 1]
    now[0] = 201.0
    alg.on_load_report(0, 0.5, 100, 0)  # a new blackout from 201
    now[0] = 205.0
    alg.tick()
    assert alg.view.weights == [1, 1, 1]
    now[0] = 211.0
    alg.tick()
    assert alg.view.weights == [200, 200, 200]  # host 0 valid; the others its median


def test_reports_learn_server_capacity() -> None:
    # 3 servers of rate 1/s and 3 of rate 3/s, 8 req/s (ρ ≈ 0.67): a server's
    # report gives qps / utilisation ≈ its service rate (utilisation = qps ·
    # mean service time), truncated: 1 for the slow, 2 or 3 for the fast. So
    # the fast servers' share lies between 2/3 and 3/4 (round robin: 1/2).
    # Over ≈ 1,900 measured requests the binomial sd of a share is 0.011; the
    # band [0.62, 0.78] leaves 4 sd beyond both ends.
    data = scenario(**{"duration": "300s", "warmup": "60s", "clients.arrivals.rate": 8.0})
    data["servers"] = [
        {"name": "slow", "count": 3, "workers": 1},
        {"name": "fast", "count": 3, "workers": 1, "speed": 3},
    ]
    data["clients"]["service"] = {"dist": "exponential", "mean": 1.0}
    data["compare"] = {"balancer.algorithm": ["round_robin", "client_side_weighted_round_robin"]}
    requests = lbsim.run(data).requests
    requests = requests[requests["arrival"] >= 60]
    fast = requests["server"].astype(str).str.startswith("fast")
    share = fast.groupby(requests["variant"].astype(str)).mean()
    assert abs(share["round_robin"] - 0.5) < 0.05
    assert 0.62 < share["client_side_weighted_round_robin"] < 0.78, share
