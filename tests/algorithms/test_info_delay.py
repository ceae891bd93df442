"""info_delay: load-aware policies on stale counts (lbsim/algorithms/policies/info_delay.py).

Golden: HAProxy leastconn (version 3.1: one FIFO per key, ties round robin)
behind a snapshot that is refreshed only by ``tick``. Herding: in a run,
least connections on 10 s old counts does worse than random (Mitzenmacher,
"How Useful Is Old Information?", 2000), and two choices degrade far less.
"""

from __future__ import annotations

import numpy as np

import lbsim
from lbsim.algorithms import HostSet, RequestView, available
from lbsim.algorithms.policies.info_delay import Delayed
from tests.conftest import scenario


def delayed(name: str, **params: object) -> tuple[Delayed, HostSet]:
    real = HostSet(["s0", "s1", "s2"], [1, 1, 1])
    spec = available()[name]
    alg = spec.factory(real, np.random.default_rng(0), spec.params(info_delay=1.0, **params))
    assert isinstance(alg, Delayed)
    return alg, real


def send(alg: Delayed, real: HostSet) -> int:
    host = alg.pick(RequestView(0))
    assert host is not None
    real.outstanding[host] += 1
    alg.on_send(host)
    return host


def test_picks_herd_until_the_snapshot_is_refreshed() -> None:
    alg, real = delayed("least_connections", version="3.1")
    # the snapshot says every host is idle (key 0, FIFO 0, 1, 2) and stays so:
    # on_send re-keys host 0 from the snapshot (still 0 outstanding): it keeps
    # its place and takes every request
    assert [send(alg, real) for _ in range(3)] == [0, 0, 0]
    assert real.outstanding == [3, 0, 0] and alg.stale.outstanding == [0, 0, 0]
    # snapshot: host 0 re-keyed to (3 + 1) · 4096 // 16 = 1024; hosts 1, 2 idle (key 0)
    alg.tick()
    assert alg.stale.outstanding == [3, 0, 0]
    assert [send(alg, real) for _ in range(2)] == [1, 1]
    # availability is current, not delayed: host 1 leaves at once
    real.update([True, False, True])
    assert alg.stale.available == [True, False, True]
    assert send(alg, real) == 2


def test_without_info_delay_the_policy_is_the_plain_one() -> None:
    spec = available()["least_connections"]
    alg = spec.factory(HostSet(["a"], [1]), np.random.default_rng(0), spec.params())
    assert not isinstance(alg, Delayed)
    assert "info_delay" in available()["peak_ewma"].params.model_fields
    assert "info_delay" not in available()["round_robin"].params.model_fields


def test_stale_counts_make_least_connections_herd() -> None:
    # 10 M/M/1 servers at ρ = 0.8, 300 s (≈ 2,200 measured requests): random
    # gives ≈ 1/(1 - 0.8) = 5 s; least connections on 10 s old counts sends
    # each 10 s of traffic (80 requests) to the few servers that looked
    # emptiest, ≈ 18 s measured; two choices on the same stale counts ≈ 3.5 s.
    # The gaps (> 3×) dwarf the run's noise (≈ 10-15 % of each mean).
    data = scenario(
        **{
            "duration": "300s",
            "warmup": "30s",
            "clients.arrivals.rate": 8.0,
            "servers.0.count": 10,
            "clients.service": {"dist": "exponential", "mean": 1.0},
        }
    )
    data["compare"] = {
        "balancer.algorithm": [
            "random",
            {"name": "least_connections", "info_delay": 10.0},
            {"name": "power_of_two", "info_delay": 10.0},
            "least_connections",
        ]
    }
    mean = lbsim.run(data).summary["latency_mean"].tolist()
    random, stale_lc, stale_p2c, fresh_lc = mean
    assert stale_lc > 2 * random
    assert stale_p2c < stale_lc / 3
    assert fresh_lc < random / 2
