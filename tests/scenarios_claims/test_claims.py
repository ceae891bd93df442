"""Each bundled scenario shows what its comment says (one test per scenario).

The comments of scenarios/*.yaml make claims about the output ("random loads
the slow servers to 95%", "the budget keeps most of the goodput"...). Each
test runs the scenario (shortened by overrides only where the claim still
holds with the margin stated; as shipped, the session's shared run) and
asserts the claimed ordering. The margins
are factors, far beyond seed noise: where a test compares rates of many
requests it states the binomial standard error behind its tolerance.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import lbsim
from lbsim.analysis.best import Z_LIMIT, z_statistic
from tests.conftest import Bundled, event_times

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(name: str, **overrides: object) -> lbsim.Result:
    """The bundled scenario ``name``; no request rows unless asked (summaries
    and events are the same either way)."""
    return lbsim.run(ROOT / "scenarios" / f"{name}.yaml", **{"records": "none", **overrides})


def by_variant(result: lbsim.Result) -> dict[str, dict[str, float]]:
    return result.summary.set_index("variant").to_dict("index")


def test_algorithms_random_ignores_speed_and_load() -> None:
    # 10 of the 20 minutes: the p99s differ by factors of 3 and more.
    result = run("algorithms", duration="10m", records="all")
    p99 = {v: row["latency_p99"] for v, row in by_variant(result).items()}
    aware = max(p99["least_connections"], p99["least_response_time"])
    weighted = min(p99["round_robin"], p99["weighted_round_robin"])
    assert 2 * aware < weighted  # reacting to busyness beats splitting by weight
    assert 2 * max(p99["round_robin"], p99["weighted_round_robin"]) < p99["random"]
    assert p99["random"] < p99["ip_hash"]  # pinned clients: the worst, whatever the load
    # Random ignores weights: every server gets 1/8 of the requests (a weighted
    # split would give each fast one 2/10), so a speed-1 server sees 76/8 = 9.5/s
    # of its 10/s: 95% busy. n ≈ 43k requests: the SE of a share is
    # sqrt(1/8 · 7/8 / n) ≈ 0.0016; 4 SE = 0.0064 catches any weighting above that.
    requests = result.requests
    chosen = requests[requests["variant"] == "random"]
    shares = chosen["server"].value_counts(normalize=True)
    tolerance = 4 * math.sqrt(1 / 8 * 7 / 8 / len(chosen))
    assert len(shares) == 8
    assert all(abs(share - 1 / 8) < tolerance for share in shares), shares


def test_black_friday_round_robin_keeps_feeding_the_slow_server(
    black_friday_result: lbsim.Result,
) -> None:
    rows = by_variant(black_friday_result)
    aware = ("least_connections", "power_of_two", "least_response_time")
    # Round robin's p99 is tens of seconds (the slow big server's queue); the
    # load-aware algorithms stay well under a second.
    assert all(
        10 * rows[v]["latency_all_p99"] < rows["round_robin"]["latency_all_p99"] for v in aware
    )
    # The crashed server is out of rotation after about 11 s (three failed checks,
    # inter 2 s, each waiting out its timeout), in every variant; its requests
    # until then fail with conn_error.
    for row in rows.values():
        assert 6 < row["detect_down_mean"] < 16
    assert rows["round_robin"]["conn_error_rate"] > 0


def test_black_friday_capstone_algorithms_dns_failover_and_autoscaling(bundled: Bundled) -> None:
    rows = by_variant(bundled("black_friday.yaml"))
    aware = ("least_connections", "power_of_two")
    algorithms = ("round_robin", *aware)
    assert len(rows) == 12
    for scale in ("max=2", "max=16"):
        for fail in ("at=130s", "at=6m"):
            # Round robin overfeeds the surviving big server while us-big-0 is
            # down (p99 tens of seconds); the load-aware ones stay 5x better.
            rr = rows[f"round_robin / {scale} / {fail}"]["latency_all_p99"]
            for v in aware:
                assert 5 * rows[f"{v} / {scale} / {fail}"]["latency_all_p99"] < rr
    for v in algorithms:
        for scale in ("max=2", "max=16"):
            failed, whole = rows[f"{v} / {scale} / at=130s"], rows[f"{v} / {scale} / at=6m"]
            # The crashed server leaves rotation after ~10 s (3 HAProxy checks).
            assert 6 < whole["detect_down_mean"] < 16
            # eu-west down: requests reach it until Route 53's checkers (3 x 10 s)
            # and the 30 s TTL have moved its clients, and each fails: the error
            # rate is many times that of the same variant without the outage.
            assert whole["dead_region_requests"] == 0 and whole["cross_region_share"] == 0
            # a failure set past the end of arrivals is no outage: no failover time (blank)
            assert math.isnan(whole["failover_time"])
            assert failed["dead_region_requests"] > 1000 and failed["cross_region_share"] > 0
            assert 10 < failed["failover_time"] <= 3 * 10 + 30 + 10
            assert failed["error_rate"] > 5 * whole["error_rate"]
        # us-east's autoscaler adds instances when it may
        for fail in ("at=130s", "at=6m"):
            grown = rows[f"{v} / max=16 / {fail}"]["instances_peak"]
            assert grown > rows[f"{v} / max=2 / {fail}"]["instances_peak"]
    # ... and, with a load-aware balancer, saves requests when us-east carries
    # both regions: n ~ 45k requests per variant, the SE of an error rate
    # near 0.2 is sqrt(0.2 * 0.8 / 45k) ~ 0.002; 0.02 is 10 SE (the variants
    # see the same requests, so the difference is tighter still).
    for v in aware:
        scaled, fixed = rows[f"{v} / max=16 / at=130s"], rows[f"{v} / max=2 / at=130s"]
        assert scaled["error_rate"] < fixed["error_rate"] - 0.02
        assert scaled["rejected_rate"] < 0.75 * fixed["rejected_rate"]


def test_cascading_failure_ejects_itself_only_when_probes_queue(bundled: Bundled) -> None:
    result = bundled("cascading_failure.yaml")
    rows = by_variant(result)
    queued, separate = rows["through_queue=True"], rows["through_queue=False"]
    # Probes through the queue: servers are marked down during the surge and,
    # at times, none is left (no_backend); out-of-band probes keep them all.
    assert queued["no_backend_rate"] > 0 and separate["no_backend_rate"] == 0
    z = z_statistic(
        queued["error_rate"], queued["requests"], separate["error_rate"], separate["requests"]
    )
    assert z > Z_LIMIT  # more errors beyond noise
    events = result.events
    downs = events[(events["kind"] == "marked_down")]
    assert set(downs["variant"]) == {"through_queue=True"}


def test_health_check_failover_faster_checks_detect_sooner() -> None:
    rows = by_variant(run("health_check_failover", duration="10m"))
    haproxy, fast = (
        rows["haproxy"],
        rows["haproxy(interval=500ms, timeout=500ms, unhealthy_threshold=2)"],
    )
    alb = rows["alb"]
    # fall × inter bounds the delay: 2 × 0.5 s < 3 × 2 s < 2 × 30 s (plus timeouts).
    assert fast["detect_down_mean"] < haproxy["detect_down_mean"] < alb["detect_down_mean"]
    # Requests sent to the dead server until then fail: a handful for the fast
    # checks, dozens for ALB's; their rates differ beyond noise (z > 3).
    z = z_statistic(
        alb["conn_error_rate"], alb["requests"], fast["conn_error_rate"], fast["requests"]
    )
    assert z > Z_LIMIT


def test_lb_failover_errors_grow_with_the_takeover_time(bundled: Bundled) -> None:
    result = bundled("lb_failover.yaml")
    rows = by_variant(result)
    rate = 200.0  # requests/s, the scenario's Poisson rate
    for takeover in (1, 3, 10):
        row = rows[f"failover_time={takeover}s"]
        # Requests arriving during the takeover fail: a Poisson count of mean
        # λ·T, plus the few in flight at the crash (λ × ~20 ms ≈ 4). Tolerance:
        # 4 Poisson SE of the count, sqrt(λ·T) (1 s: ±57 of 204; 10 s: ±179 of 2,004).
        expected = rate * takeover + 4
        failed = row["conn_error_rate"] * row["requests"]
        assert abs(failed - expected) < 4 * math.sqrt(expected), (takeover, failed)
    assert (
        rows["failover_time=1s"]["conn_error_rate"]
        < rows["failover_time=3s"]["conn_error_rate"]
        < rows["failover_time=10s"]["conn_error_rate"]
    )
    assert len(event_times(result, "takeover")) == 3  # once per variant


def test_slow_start_about_halves_the_queue_and_p99_but_no_more(bundled: Bundled) -> None:
    """The comment's claim both ways: slow start cuts the p99 and the peak
    queue to about half (at most 2/3 of none's), and only about half (at
    least 0.35): a linear ramp still sends the cold server over a third of its
    share before it is warm. Both fail if slow start is ignored (ratio 1) or
    if the ramp kept the cold server idle (its queue would stay near 0)."""
    rows = by_variant(bundled("slow_start.yaml"))
    none = rows["slow_start=none"]
    for ramped in ("envoy(window=60s)", "haproxy(window=60s)"):
        for metric in ("latency_p99", "queue_max"):
            ratio = rows[ramped][metric] / none[metric]
            assert 0.35 < ratio < 2 / 3, (ramped, metric, ratio)


def test_retry_storm_retries_halve_goodput_and_the_budget_keeps_most(bundled: Bundled) -> None:
    rows = by_variant(bundled("retry_storm.yaml"))
    none = rows["retries=none"]
    storm = rows["max=3, retry_on=[rejected, timeout, conn_error]"]
    budget = rows["max=3, retry_on=[rejected, timeout, conn_error], budget(percent=20)"]
    assert storm["retry_amplification"] > 2.5 and storm["wasted_rate"] > none["wasted_rate"]
    assert storm["goodput"] < 0.6 * none["goodput"]  # "half of what no retries serve"
    assert budget["retry_amplification"] < 1.2  # "near 1"
    assert budget["goodput"] > 0.8 * none["goodput"]  # "most of that goodput"
    assert budget["goodput"] > 1.5 * storm["goodput"]


def test_load_curve_random_is_an_mm1_queue_and_the_gap_grows_with_load() -> None:
    # Two points of the sweep (its grid left out) as single runs. At ρ = 0.5 random
    # gives each server an M/M/1 queue: sojourn ~ Exp(μ(1 - ρ)) = Exp(5/s), so
    # p99 = ln(100)/5 = 0.921 s.
    # n ≈ 19k requests: the p99's SE is sqrt(0.01 · 0.99 / n) / (0.01 · 5/s) ≈ 14 ms
    # for independent ones, more for queued neighbours; ±15% is over 5 of those.
    low = by_variant(run("load_curve", sweep=None, **{"clients.arrivals.rate": 40}))
    theory = math.log(100) / (10 * (1 - 0.5))
    assert low["random"]["latency_p99"] == pytest.approx(theory, rel=0.15)
    assert low["least_connections"]["latency_p99"] < 0.7 * low["random"]["latency_p99"]
    # At ρ = 0.95 random's p99 is 9.2 s in theory; the queue-aware ones several times lower.
    high = by_variant(run("load_curve", sweep=None, **{"clients.arrivals.rate": 76}))
    p99 = {v: row["latency_p99"] for v, row in high.items()}
    for aware in ("least_connections", "power_of_two"):
        assert 3 * p99[aware] < p99["random"]
        assert p99[aware] < p99["round_robin"] < p99["random"]


def test_autoscaling_boot_time_cooldown_and_metric_order_the_errors() -> None:
    """The comment's ordering of error_rate: requests_per_target < cpu with 30 s
    boots < {10 min cooldown, 3 min boots}. Common random numbers: every
    variant sees the same ~33k requests, so the differences come from when
    capacity arrives, not from noise; each margin (1 to 10 points of error
    rate) is over 4 binomial SEs (sqrt(0.2·0.8/33k) ≈ 0.0022) even as if the
    variants were independent. The decisions behind them are checked too:
    request count reaches 20 instances in one step, CPU's first step only
    doubles the fleet (saturation), and the cooldown keeps it at 8."""
    result = run("autoscaling")
    rows = by_variant(result)
    fast = rows["metric=cpu, target=50, boot_time=30s"]
    slow = rows["metric=cpu, target=50, boot_time=3m"]
    cooldown = rows["metric=cpu, target=50, boot_time=30s, scale_out_cooldown=10m"]
    requests = rows["metric=requests_per_target, target=150, boot_time=30s"]
    assert requests["error_rate"] + 0.01 < fast["error_rate"]
    assert fast["error_rate"] + 0.03 < cooldown["error_rate"]
    assert fast["error_rate"] + 0.1 < slow["error_rate"]
    assert cooldown["instances_peak"] == 8 and fast["instances_peak"] == 20
    outs = result.capacity().query("kind == 'scale_out'").groupby("variant")["desired"].first()
    assert outs["metric=requests_per_target, target=150, boot_time=30s"] == 20
    assert outs["metric=cpu, target=50, boot_time=30s"] == 8
