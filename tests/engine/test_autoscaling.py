"""Autoscaling: the scaling rules on scripted metric traces (golden, derived by
hand below), and the engine's instances booting, registering and draining."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lbsim
from lbsim.engine.scaling_policy import ScalingPolicy, proportional
from lbsim.scenario.models.autoscale import Autoscale
from tests.cli.test_cli_errors import validate
from tests.conftest import event_times, scenario


def _run(policy: ScalingPolicy, trace: list[tuple[float, float | None, int | None]]) -> list[int]:
    """Desired capacity after each ``(time, metric, counted)`` of ``trace``,
    from 4 instances; ``counted`` None: every instance of the capacity counts."""
    capacity = 4
    out = []
    for time, metric, counted in trace:
        capacity = policy.decide(time, metric, capacity if counted is None else counted, capacity)
        out.append(capacity)
    return out


def test_aws_target_tracking_golden_sequence() -> None:
    """Target 50, scale-out after 2 datapoints above it, scale-in after 3 below
    45 (90% of it), scale-out cooldown 180 s, 4 instances to start.

    60: [80] one datapoint above: no alarm → 4.
    120: [80, 90] high; raw = ceil(4·90/50) = ceil(7.2) = 8 > 4 → 8.
    180: high; the 4 new ones boot (counted 4): raw = ceil(4·95/50) = 8, not > 8 → 8.
    240: high; counted 8: raw = ceil(8·70/50) = 12, but 240 − 120 < 180 (cooldown) → 8.
    300: high; raw = ceil(8·60/50) = ceil(9.6) = 10, 300 − 120 = 180 ≥ 180 → 10.
    360, 420, 480: 50 is not above 50, and [50, 40, 30] is not all below 45 → 10.
    540: [40, 30, 20] all below 45: raw = ceil(10·20/50) = 4 < 10 → 4.
    600: no data (nothing counted) → 4, and the run of datapoints is broken:
    660, 720: [20, None, 10], [None, 10, 10] → 4.
    780: [10, 10, 10]: raw = ceil(4·10/50) = 1, clamped to min 2 → 2.
    """
    config = Autoscale(
        min=2,
        max=10,
        metric="cpu",
        target=50,
        evaluation_periods=2,
        scale_in_evaluation_periods=3,
        scale_out_cooldown=180,
    )
    trace: list[tuple[float, float | None, int | None]] = [
        (60, 80, None),
        (120, 90, None),
        (180, 95, 4),
        (240, 70, None),
        (300, 60, None),
        (360, 50, None),
        (420, 40, None),
        (480, 30, None),
        (540, 20, None),
        (600, None, 0),
        (660, 10, None),
        (720, 10, None),
        (780, 10, None),
    ]
    assert _run(ScalingPolicy(config), trace) == [4, 8, 8, 8, 10, 10, 10, 10, 4, 4, 4, 4, 2]


def test_hpa_golden_sequence() -> None:
    """HPA, target 50, tolerance 0.1, stabilisation window 300 s, 4 pods.

    15: 54/50 = 1.08, within the tolerance → 4.
    30: ceil(4·100/50) = 8; the scale-up limit is 4 + max(4, 4) = 8 → 8.
    45: ceil(8·300/50) = 48, limited to 8 + max(4, 8) = 16 → 16 (the recommendation 48 is kept).
    60: ceil(16·40/50) = ceil(12.8) = 13, but 48 is in the last 300 s → 16.
    75 ... 330: ceil(16·25/50) = 8, still below the 48 of t = 45 → 16.
    345: the window is (45, 345]: the highest is 13 (t = 60) → 13.
    360: window (60, 360]: recommendations 8 and ceil(13·25/50) = 7 → 8.
    """
    config = Autoscale(preset="hpa", max=100, metric="cpu", target=50)
    trace: list[tuple[float, float | None, int | None]] = [
        (15, 54, None),
        (30, 100, None),
        (45, 300, None),
        (60, 40, None),
        *((float(t), 25, None) for t in range(75, 331, 15)),
        (345, 25, None),
        (360, 25, None),
    ]
    got = _run(ScalingPolicy(config), trace)
    assert got == [4, 8, 16, 16, *[16] * 18, 13, 8]


def test_proportional_ignores_float_noise() -> None:
    assert proportional(4, 75.00000000001, 50) == 6  # 6.000000000001 is 6 instances
    assert proportional(4, 76, 50) == 7


@settings(max_examples=60, deadline=None)
@given(
    preset=st.sampled_from(["aws", "hpa"]),
    bounds=st.tuples(st.integers(1, 6), st.integers(0, 6)),
    metrics=st.lists(st.one_of(st.none(), st.floats(0, 1000)), min_size=1, max_size=40),
)
def test_policy_stays_within_min_and_max(
    preset: str, bounds: tuple[int, int], metrics: list[float | None]
) -> None:
    low, extra = bounds
    config = Autoscale.model_validate(
        {"preset": preset, "min": low, "max": low + extra, "metric": "queue", "target": 3}
    )
    policy = ScalingPolicy(config)
    capacity = low
    for k, metric in enumerate(metrics):
        capacity = policy.decide(15.0 * (k + 1), metric, capacity, capacity)
        assert config.min <= capacity <= config.max


# ------------------------------------------------------------ the engine

# Two M/M/1-like servers at ρ = 0.5 (10/s, 100 ms each), then a step to 15/s
# at 100 s: ρ = 0.75 on two, so CPU ≈ 75% > 50 and raw = ceil(2·75/50) = 3
# (a noisy datapoint above 75% gives 4). The step is on a period boundary.
STEP: dict[str, Any] = {
    "duration": "4m",
    "warmup": 0,
    "drain": "2m",
    "clients.arrivals": {
        "process": "poisson",
        "profile": [
            {"at": 0, "rate": 10},
            {"at": "99.999s", "rate": 10},
            {"at": "100s", "rate": 15},
        ],
    },
    "clients.service": {"dist": "exponential", "mean": "100ms"},
    "balancer": {"algorithm": "least_connections"},
}


def _step(**autoscale: Any) -> dict[str, Any]:
    config = {"min": 2, "max": 6, "metric": "cpu", "target": 50, "period": "20s"}
    config |= {"boot_time": "40s"} | autoscale
    return scenario(STEP, **{"servers.0.count": 2, "servers.0.autoscale": config})


def _end_spike(data: dict[str, Any], rate: float) -> None:
    """Hold 15/s until 200 s, then drop to ``rate``; run until 5 min."""
    data["duration"] = "5m"
    data["clients"]["arrivals"]["profile"] += [
        {"at": "199.999s", "rate": 15},
        {"at": "200s", "rate": rate},
    ]


def _capacity(result: lbsim.Result) -> list[tuple[float, str, dict[str, int]]]:
    """Each autoscaling event: time, kind and the pool's counts after it."""
    rows = []
    for time, kind, detail in result.events[["time", "kind", "detail"]].itertuples(index=False):
        if "in_service=" in detail:
            fields = dict(part.split("=") for part in detail.split())
            counts = {k: int(fields[k]) for k in ("desired", "provisioned", "in_service")}
            rows.append((float(time), kind, counts))
    return rows


def test_reaches_target_within_evaluation_and_boot_time() -> None:
    """The load steps up at 100 s. Datapoints at 120, 140, 160 are all above
    the target, so the scale-out is at 100 + 3·20 = 160 at the latest (one
    datapoint per period, 3 evaluation periods) and its instances are in
    service ``boot_time`` later: by 200 s, at least 3 of them (the capacity
    for which ρ = 1.5/3 = 50%)."""
    result = lbsim.run(_step())
    step, periods, period, boot = 100.0, 3, 20.0, 40.0
    outs = event_times(result, "scale_out")
    assert outs and step < outs[0] <= step + periods * period
    ready = [(t, c) for t, kind, c in _capacity(result) if kind == "instance_ready"]
    by_then = [c["in_service"] for t, c in ready if t <= step + periods * period + boot]
    assert by_then and max(by_then) >= 3
    assert event_times(result, "scale_out")[0] + boot == ready[0][0]  # boot time, exactly
    assert result.summary["error_rate"].iloc[0] == 0


def test_new_instances_pass_health_checks_get_slow_start_and_serve_only_when_in() -> None:
    """With Envoy health checks (a new host starts unhealthy; one passing check
    marks it up) and slow start, each booted instance is marked up and starts
    its ramp at once after it registers; and no host serves a request before
    it joined or after it was terminated (until it joins again)."""
    data = _step(boot_time="10s", deregistration_delay="5s", scale_in_evaluation_periods=2)
    data["balancer"]["health_check"] = {"preset": "envoy", "interval": "2s"}
    data["balancer"]["slow_start"] = {"preset": "envoy", "window": "20s"}
    _end_spike(data, rate=2)
    result = lbsim.run(data)
    ready = result.events[result.events["kind"] == "instance_ready"]
    assert len(ready) >= 1 and len(event_times(result, "instance_terminated")) >= 1
    for host, when in zip(ready["target"], ready["time"], strict=True):
        for kind in ("marked_up", "slow_start"):
            assert when in event_times(result, kind, host)
    requests = result.requests
    new = [f"web-{index}" for index in range(2, 6)]  # the hosts not running at the start
    assert requests["server"].isin(new).sum() > 0  # the new instances do serve
    for host in new:
        joined = event_times(result, "instance_ready", host)
        gone = event_times(result, "instance_terminated", host)
        for t in requests[requests["server"] == host]["start"].dropna():
            last_join = max((j for j in joined if j <= t), default=None)
            assert last_join is not None, (host, t)
            assert not [g for g in gone if last_join <= g < t], (host, t)


@pytest.mark.parametrize(("low", "high", "count"), [(1, 2, 1), (2, 3, 2), (2, 6, 4), (3, 3, 3)])
def test_never_beyond_max_or_below_min(low: int, high: int, count: int) -> None:
    """At every autoscaling event of a spike (ρ = 1 on one instance, 1.5 busy
    workers) and its end (0.1 busy): provisioned ≤ max, desired within
    [min, max], in service ≥ min once running; and the autoscaler does press
    against a bound (the spike wants 3+ instances, the end 1), so the clamp
    is what holds it."""
    data = _step(min=low, max=high, boot_time="10s", deregistration_delay="5s")
    data["servers"][0]["count"] = count
    data["servers"][0]["autoscale"]["scale_in_evaluation_periods"] = 2
    _end_spike(data, rate=1)
    rows = _capacity(lbsim.run(data))
    desired = [c["desired"] for _, _, c in rows]
    if low < high:
        assert {kind for _, kind, _ in rows} & {"scale_out", "scale_in"}
        assert max(desired) == high or min(desired) == low
    else:  # nothing to decide: the fleet stays as it is
        assert set(desired) == {low}
    for _, _, c in rows:
        assert c["provisioned"] <= high
        assert low <= c["desired"] <= high
        assert c["in_service"] >= low or c["provisioned"] > c["in_service"]


# Long requests (exponential, mean 20 s) at 1/s on 4 instances of 16 workers:
# about 20 busy of 64 workers, so HPA (target 80%) scales in at its first
# evaluations while every instance still serves requests.
DRAIN: dict[str, Any] = {
    "duration": "1m",
    "warmup": 0,
    "drain": "10m",
    "clients.arrivals.rate": 1.0,
    "clients.service": {"dist": "exponential", "mean": "20s"},
    "servers.0.count": 4,
    "servers.0.workers": 16,
}


def _drain(delay: str) -> lbsim.Result:
    config = {
        "preset": "hpa",
        "min": 1,
        "max": 4,
        "metric": "cpu",
        "target": 80,
        "period": "10s",
        "stabilization_window": "20s",
        "deregistration_delay": delay,
    }
    return lbsim.run(scenario(DRAIN, **{"servers.0.autoscale": config}))


def test_scale_in_loses_no_request_in_flight() -> None:
    """With a deregistration delay far beyond any service time here (the
    longest of ~60 draws from Exp(20 s) is under 300 s with probability
    1 − 60·e^-15 ≈ 1), every request is answered ok although instances are
    drained while serving; with no delay the same scale-in cuts requests off
    (conn_error), so the first assertion depends on the draining."""
    kept = _drain("5m")
    draining = kept.events[kept.events["kind"] == "instance_draining"]["detail"]
    assert sum(int(d.rsplit("in_flight=", 1)[1]) for d in draining) > 0
    assert (kept.events["kind"] == "instance_terminated").sum() == len(draining)
    assert kept.summary["error_rate"].iloc[0] == 0
    cut = _drain("0s")
    lost = cut.events[cut.events["kind"] == "instance_terminated"]["detail"]
    assert sum(int(d.rsplit("lost=", 1)[1]) for d in lost) > 0
    assert cut.summary["conn_error_rate"].iloc[0] > 0


HEAD = """\
name: a
duration: 1m
clients:
  arrivals: {process: poisson, rate: 5/s}
  service: {dist: exponential, mean: 10ms}
servers:
  - name: web
    count: 2
"""


@pytest.mark.parametrize(
    ("autoscale", "where", "message"),
    [
        (
            "{min: 4, max: 2, metric: cpu, target: 50}",
            "s.yaml:9:5: servers.0.autoscale",
            "min (4) must not exceed max (2)",
        ),
        ("{max: 4, metric: cpu, target: 0}", "servers.0.autoscale.target", "greater than 0"),
        ("{max: 4, metric: cpu, target: -5}", "servers.0.autoscale.target", "greater than 0"),
        ("{max: 4, metric: latency, target: 1}", "servers.0.autoscale.metric", "cpu"),
        ("{max: 4, metric: cpu, target: 150}", "servers.0.autoscale", "percentage"),
        ("{min: 3, max: 4, metric: cpu, target: 50}", "servers.0", "count (2) must be between"),
    ],
)
def test_bad_autoscale_input(tmp_path: Path, autoscale: str, where: str, message: str) -> None:
    code, err = validate(tmp_path, HEAD + f"    autoscale: {autoscale}\n")
    assert code == 2
    assert where in err
    assert message in err


def _first_decision(metric: str, target: float, rate: float, service: float, count: int) -> dict:
    """The first scale-out of a 10 s-period, 1-evaluation-period policy under
    evenly spaced arrivals and fixed service times: its datapoint and desired."""
    config = {"min": 1, "max": 10, "metric": metric, "target": target, "period": "10s"}
    config |= {"evaluation_periods": 1, "boot_time": "5s"}
    data = scenario(
        duration="30s",
        warmup=0,
        **{
            "clients.arrivals": {"process": "deterministic", "rate": rate},
            "clients.service": {"dist": "deterministic", "value": service},
            "servers.0.count": count,
            "servers.0.autoscale": config,
        },
    )
    events = lbsim.run(data).events
    detail = events[events["kind"] == "scale_out"]["detail"].iloc[0]
    fields = dict(part.split("=") for part in detail.split())
    time = float(events[events["kind"] == "scale_out"]["time"].iloc[0])
    return {"time": time, "metric": float(fields["metric"]), "desired": int(fields["desired"])}


def test_requests_per_target_counts_the_period_s_requests_per_instance() -> None:
    """10 requests/s evenly spaced, 2 instances, 10 s periods: 100 requests (99
    if the one at exactly 10 s falls after the datapoint) per period, 50 per
    target; with a target of 20 the first datapoint asks for ceil(2·50/20) = 5."""
    got = _first_decision("requests_per_target", 20, 10.0, 0.05, 2)
    assert got["time"] == 10.0
    assert got["metric"] in (49.5, 50.0)
    assert got["desired"] == 5


def test_queue_is_the_mean_backlog_per_counted_instance() -> None:
    """Arrivals every 0.5 s, 1 s of service, one instance: by time t about 2t
    have arrived and t been served, so t wait (± the one arriving at the
    sample instant). Samples at 1, 2, ..., 10 s average 5.5 ± 1; with a
    target of 2 the first datapoint asks for ceil(metric / 2) instances."""
    got = _first_decision("queue", 2, 2.0, 1.0, 1)
    assert got["time"] == 10.0
    assert 4.5 <= got["metric"] <= 6.5
    assert got["desired"] == math.ceil(got["metric"] / 2)


def test_a_scaled_in_host_is_no_longer_probed() -> None:
    """Two instances at ρ = 0.05 each: the first datapoint (5% < 45%) scales in
    to one (min 1), taking web-1, a host probed since the start. Its checks
    stop with its deregistration: no health transition of web-1 after it,
    although a probe of the terminated host would fail (fall 2: at the second)."""
    config = {"min": 1, "max": 2, "metric": "cpu", "target": 50, "period": "10s"}
    config |= {"scale_in_evaluation_periods": 1, "deregistration_delay": "1s"}
    data = scenario(
        duration="2m",
        warmup=0,
        **{
            "clients.arrivals.rate": 1.0,
            "clients.service": {"dist": "exponential", "mean": "100ms"},
            "servers.0.count": 2,
            "servers.0.autoscale": config,
            "balancer": {
                "health_check": {"preset": "haproxy", "interval": "1s", "unhealthy_threshold": 2}
            },
        },
    )
    result = lbsim.run(data)
    draining = event_times(result, "instance_draining", "web-1")
    assert draining == [10.0]
    after = [t for kind in ("marked_down", "marked_up") for t in event_times(result, kind, "web-1")]
    assert not [t for t in after if t > draining[0]]
    assert event_times(result, "instance_terminated", "web-1")


def test_an_autoscaled_pool_behind_a_layer7_route() -> None:
    """Routes: /api to an autoscaled pool (1 instance at ρ = 1.5 to start),
    the rest to a fixed one. New api instances join the api route's cluster
    only, and serve its requests; the fixed pool is left as it is."""
    scaling = {"max": 4, "metric": "cpu", "target": 50, "period": "10s", "boot_time": "5s"}
    data = scenario(
        duration="2m",
        warmup=0,
        **{
            "clients.arrivals": {"process": "poisson", "rate": 30},
            "clients.service": {"dist": "exponential", "mean": "100ms"},
            "servers": [
                {"name": "api", "count": 1, "autoscale": scaling},
                {"name": "static", "count": 2},
            ],
            "balancer": {
                "routes": [{"match": {"path_prefix": "/api"}, "pool": "api"}, {"pool": "static"}]
            },
        },
    )
    data["clients"]["mix"] = [
        {"name": "api", "share": 0.5, "path": "/api/x"},
        {"name": "static", "share": 0.5, "path": "/s"},
    ]
    result = lbsim.run(data)
    served = result.requests.groupby("server", observed=True)["route"].agg(["size", "max"])
    assert served.loc["api-1", "size"] > 0  # a booted instance serves
    api = [name for name in served.index if name.startswith("api-")]
    assert (served.loc[api, "max"] == 0).all()  # only the /api route's requests
    assert set(result.capacity()["pool"]) == {"api"}
