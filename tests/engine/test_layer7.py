"""Layer 7: routes and the request mix, the balancer's CPU, TLS.

Statistical checks state n, the standard error and the smallest bias they
catch; deterministic ones are exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lbsim
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load
from lbsim.status import INCOMPLETE
from tests.conftest import scenario

MIX: dict[str, Any] = {
    "balancer": {},
    "duration": "100s",
    "warmup": 0,
    "clients.arrivals.rate": 200.0,
    "clients.service": {"dist": "exponential", "mean": 0.01},
    "clients.mix": [
        {"name": "api", "share": 0.5, "path": "/api/x"},
        {
            "name": "static",
            "share": 0.3,
            "path": "/static/y",
            "service": {"dist": "deterministic", "value": 0.002},
        },
        {"name": "shop", "share": 0.2, "path": "/checkout", "host": "shop.example"},
    ],
    "servers": [
        {"name": "api", "count": 2, "workers": 4},
        {"name": "static", "count": 1, "workers": 4},
        {"name": "shop", "count": 2, "workers": 4},
    ],
    "balancer.routes": [
        {"match": {"path_prefix": "/static"}, "pool": "static"},
        {"match": {"host": "SHOP.example"}, "pool": "shop", "algorithm": "least_connections"},
        {"match": {"path_prefix": "/api"}, "pool": "api"},
        {"pool": "api"},
    ],
}


def test_route_split_is_exact_per_class_and_classes_are_binomial() -> None:
    result = lbsim.run(scenario(MIX))
    requests = result.requests
    n = len(requests)
    # deterministic: each class has one route (first match; host match ignores case)
    expected_route = {0: 2, 1: 0, 2: 1}
    assert (requests["route"] == requests["request_class"].map(expected_route)).all()
    group = requests["server"].astype(str).str.rsplit("-", n=1).str[0]
    for route, name in ((0, "static"), (1, "shop"), (2, "api")):
        assert set(group[requests["route"] == route]) == {name}
    # random: class counts are binomial(n, share); n ≈ 20000, 4 standard errors
    # (sqrt(n p (1-p)) ≈ 71 for p = 0.5) catch a share off by 1.5 points
    for kind, share in enumerate((0.5, 0.3, 0.2)):
        count = int((requests["request_class"] == kind).sum())
        assert abs(count - n * share) < 4 * np.sqrt(n * share * (1 - share))


def test_each_class_has_its_own_service_and_the_workload_is_common() -> None:
    data = scenario(MIX)
    data["compare"] = {"balancer.algorithm": ["round_robin", "random"]}
    result = lbsim.run(data)
    frames = [g for _, g in result.requests.groupby("variant", observed=True)]
    for column in ("request_class", "demand", "arrival"):
        assert np.array_equal(frames[0][column].to_numpy(), frames[1][column].to_numpy())
    demand = frames[0]["demand"].to_numpy()
    kind = frames[0]["request_class"].to_numpy()
    assert np.all(demand[kind == 1] == 0.002)  # static's deterministic service
    # api: exponential mean 10 ms over n ≈ 10000; se = 10 ms / 100; 4 se = 4%
    api = demand[kind == 0]
    assert abs(api.mean() - 0.01) < 4 * 0.01 / np.sqrt(len(api))


def test_a_class_timeout_counts_from_arrival() -> None:
    data = scenario(
        MIX,
        **{
            "clients.mix.2.timeout": "50ms",
            "clients.mix.2.service": {"dist": "deterministic", "value": 1.0},
        },
    )
    requests = lbsim.run(data).requests
    shop = requests[requests["request_class"] == 2]
    assert (shop["status"] == "timeout").all()
    assert np.allclose(shop["latency"], 0.05)
    assert (requests.loc[requests["request_class"] != 2, "status"] == "ok").all()


def test_a_flat_scenario_records_no_layer7_columns() -> None:
    result = lbsim.run(scenario(duration="1m", warmup=0))
    assert "route" not in result.requests and "handshake" not in result.requests
    assert "balancer_utilization" not in result.summary


def _cpu(layer: int, rate: float, **changes: Any) -> dict[str, Any]:
    return scenario(
        **{
            "balancer": {},
            "duration": "4s",
            "warmup": 0,  # requests leaving the CPU late arrived early: keep them all
            "drain": "0s",
            "clients.arrivals.rate": rate,
            "clients.service": {"dist": "deterministic", "value": 0.001},
            "servers.0.count": 4,
            "servers.0.workers": 100,
            "balancer.layer": layer,
            "balancer.cpu": {
                "workers": 2,
                "connection_cost": "0.1ms",
                "request_cost": "0.6ms",
            },
            **changes,
        }
    )


def _served_rate(result: lbsim.Result, lo: float, hi: float) -> float:
    """Requests per second leaving the balancer CPU within [lo, hi)."""
    requests = result.requests
    served = requests[requests["latency_balancer"] > 0]  # the rest never left its queue
    left = served["arrival"] + served["latency_balancer"]
    return float(((left >= lo) & (left < hi)).sum() / (hi - lo))


@pytest.mark.parametrize(("layer", "cost"), [(7, 0.0007), (4, 0.0001)])
def test_a_saturated_balancer_serves_workers_over_cost(layer: int, cost: float) -> None:
    # Offered 25k/s, far above either capacity (2/0.7 ms ≈ 2857/s at L7,
    # 2/0.1 ms = 20000/s at L4): both cores never idle after the first
    # instants, and the costs are deterministic, so the CPU completes exactly
    # workers / cost per second, up to one job per core at each end of the
    # interval (2 jobs / 2 s = 0.05% of the rate at L7, 0.005% at L4).
    result = lbsim.run(_cpu(layer, 25000.0))
    rate = _served_rate(result, 2.0, 4.0)
    assert rate == pytest.approx(2 / cost, rel=2e-3)
    # a core idles only while the queue first builds (a few ms of the 4 s)
    assert result.summary["balancer_utilization"].iloc[0] == pytest.approx(1.0, abs=1e-3)


def test_layer4_sustains_seven_times_the_requests_per_core() -> None:
    # The ratio of the two saturation rates is (0.1 + 0.6) / 0.1 = 7 exactly.
    rates = [_served_rate(lbsim.run(_cpu(layer, 25000.0)), 2.0, 4.0) for layer in (4, 7)]
    assert rates[0] / rates[1] == pytest.approx(7.0, rel=3e-3)


def test_below_saturation_utilisation_is_rate_times_cost() -> None:
    # λ = 1000/s, cost 0.7 ms, 2 cores: ρ = 0.35. The measured busy time is
    # N·c over the 4 s window with N ~ Poisson(4000): sd(ρ̂) = ρ/sqrt(4000)
    # ≈ 0.0055; 4 sd catch a cost off by 6%.
    summary = lbsim.run(_cpu(7, 1000.0, drain="1s")).summary
    assert abs(summary["balancer_utilization"].iloc[0] - 0.35) < 4 * 0.35 / np.sqrt(4000)


TLS: dict[str, Any] = {
    "balancer": {},
    "duration": "11s",
    "warmup": "1s",
    "clients.arrivals.rate": 2000.0,
    "clients.service": {"dist": "deterministic", "value": 0.01},
    "servers.0.count": 4,
    "servers.0.workers": 40,
    "balancer.layer": 7,
    "balancer.cpu": {"workers": 8},
    "balancer.tls": {"full_handshake": "1ms", "resumed_handshake": 0, "rtt": "20ms"},
}


def test_handshake_cpu_is_proportional_to_one_minus_resumption() -> None:
    data = scenario(TLS)
    data["compare"] = {"balancer.tls.resumption": [0.0, 0.3, 0.6, 0.9]}
    result = lbsim.run(data)
    summary = result.summary.set_index("balancer.tls.resumption")
    # every new connection shakes hands: 2000/s × 10 s ≈ 20000, Poisson
    shakes = summary["handshakes_per_s"]
    assert (shakes == shakes.iloc[0]).all()
    n = shakes.iloc[0] * 10
    for r, cpu in summary["balancer_cpu_handshake"].items():
        # full share is binomial: se sqrt(r(1-r)/n) ≤ 0.0035; 4 se = 1.4 points
        full_share = cpu / (shakes.loc[r] * 0.001)
        assert abs(full_share - (1 - r)) <= 4 * np.sqrt(r * (1 - r) / n) + 1e-12
    # common random numbers: a connection resumed at r is resumed at every r' > r
    full = {r: set(g.loc[g["handshake"] == 1, "id"]) for r, g in _by_param(result)}
    assert full[0.9] <= full[0.6] <= full[0.3] <= full[0.0]


def _by_param(result: lbsim.Result) -> list[tuple[float, Any]]:
    names = dict(
        zip(result.summary["variant"], result.summary["balancer.tls.resumption"], strict=True)
    )
    return [(names[v], g) for v, g in result.requests.groupby("variant", observed=True)]


def test_tls_adds_round_trips_and_passthrough_moves_the_handshake_to_the_servers() -> None:
    light = {**TLS, "clients.arrivals.rate": 5.0, "balancer.tls.round_trips": 2}
    terminate = lbsim.run(scenario(light)).requests
    # idle system: latency = balancer CPU + 2 round trips + the 10 ms service
    cpu = 0.001 + 5e-6 + 3e-5  # full handshake + connection + L7 parse (defaults)
    assert np.allclose(terminate["latency_tls"], 0.04)
    assert np.allclose(terminate["latency_balancer"], cpu)
    assert np.allclose(terminate["latency"], cpu + 0.04 + 0.01)
    passthrough = lbsim.run(scenario(light, **{"balancer.tls.mode": "passthrough"})).requests
    assert np.allclose(passthrough["latency_service"], 0.011)  # the server's handshake
    assert np.allclose(passthrough["balancer_cpu"], 5e-6)  # no parse, no handshake
    reencrypt = lbsim.run(scenario(light, **{"balancer.tls.mode": "reencrypt"})).requests
    assert np.allclose(reencrypt["balancer_cpu"], cpu + 0.001)
    assert np.allclose(reencrypt["latency_service"], 0.011)


@pytest.mark.parametrize("instances", [1, 2])
def test_every_answer_reaches_the_cluster_that_sent_it(instances: int) -> None:
    # Answers are routed by the request's cluster, whether the server is in
    # one cluster only (one instance: static, shop) or in several (api: two
    # routes; every server with two active-active instances). An answer
    # delivered to another cluster would leave the sender's count of the host
    # at +1 and the receiver's at -1: every count must be back to 0 after the run.
    data = scenario(MIX, duration="20s", **{"balancer.instances": instances})
    variant = load(data=data).variants[0].scenario
    world = World(variant, draw_workload(variant))
    for server in world.servers:  # the test takes both kinds of server
        shared = sum(bool(b.members[server.index]) for b in world.balancers) > 1
        assert shared is (instances == 2 or server.name.startswith("api"))
    world.run()
    assert (world.state.status != INCOMPLETE).all()
    assert world.totals.outstanding == 0
    for balancer in world.balancers:
        assert balancer.backends.outstanding == [0] * len(world.servers)
    assert len(np.unique(world.recorder.balancer)) == instances


@pytest.mark.parametrize(
    "pattern", [{"clients.hedge": {"after": "20ms"}}, {"clients.fanout": {"leaves": 3}}]
)
def test_hedged_and_fanned_out_calls_keep_their_request_class(pattern: dict[str, Any]) -> None:
    # Every call of a request is of the request's class, so it takes that
    # class's route (before: the calls had no class and the run failed when
    # collapsing them). The static class's calls draw its own deterministic
    # 2 ms, the others the exponential: exact for the static route.
    data = scenario(MIX, duration="20s", **pattern)
    variant = load(data=data).variants[0].scenario
    world = World(variant, draw_workload(variant))
    calls = world.workload
    assert calls.request_class is not None
    static = calls.request_class == 1
    assert (calls.demand[static] == 0.002).all() and (calls.demand[~static] != 0.002).all()
    rec = world.run()
    route, kinds = rec.columns["route"], rec.columns["request_class"]
    assert len(route) == len(world.workload)  # one record per request again
    assert (route == np.array([2, 0, 1])[kinds]).all()
    assert rec.extra is not None and rec.extra.sum() > 0
