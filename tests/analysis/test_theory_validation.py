"""The simulator against queueing theory.

Method: R independent replications (seeds from ``SeedSequence``), each a long
run with a warm-up cut, give R independent estimates of a metric; their mean
has standard error s/√R. A test passes when theory lies within
``Z`` standard errors of that mean. With R = 10 the replication means are
close to normal (each averages tens of thousands of requests), and the
t-distribution with 9 degrees of freedom puts |t| > 4.8 at probability 0.001:
a correct simulator fails such a check about once in a thousand runs (and, the
seeds being fixed, either always or never), while a wrong one (a mistaken
speed, a lost request, a biased pick) moves the mean by many standard errors.
Replications rather than pooled requests: latencies of successive requests
are correlated, so a confidence interval from one run's requests is too narrow.

Negative controls: every check is also made, on the same replications,
against a deliberately wrong model (service 5 % slower, or the wrong
formula), and must reject it; and its smallest detectable bias, Z standard
errors of the replication mean relative to the theoretical value, is
asserted below the figure stated at each check (measured, rounded up). A
service 5 % slower moves these metrics by 19-30 %, well above every one of
those figures. These are slow: R long runs each.
"""

from __future__ import annotations

import numpy as np
import pytest

from lbsim.analysis import theory
from lbsim.scenario import load
from tests.conftest import replicate, scenario

pytestmark = pytest.mark.slow

R = 10
Z = 4.8  # two-sided t(9) quantile at 0.999
SLOWER = 1 / 1.05  # service rate of the wrong model: every request 5 % slower


def t_stat(estimates: np.ndarray, expected: float) -> tuple[float, float]:
    """(t statistic of the replication mean against ``expected``, its SE)."""
    se = float(np.std(estimates, ddof=1) / np.sqrt(len(estimates)))
    return (float(np.mean(estimates)) - expected) / se, se


def check(estimates: np.ndarray, expected: float, wrong: float, detects: float = 0.05) -> None:
    """Theory within Z SE; the wrong model outside; a bias of ``detects``
    (relative to theory) or more detectable."""
    t, se = t_stat(estimates, expected)
    mean = float(np.mean(estimates))
    report = f"mean {mean:.4f} vs theory {expected:.4f}: {t:+.2f} SE (SE {se:.4f})"
    assert abs(t) < Z, report
    assert abs(t_stat(estimates, wrong)[0]) >= Z, f"wrong model {wrong:.4f} accepted; {report}"
    # smallest detectable bias: Z·SE, relative to the theoretical value
    assert Z * se < detects * expected, f"detects only biases above {Z * se / expected:.1%}"


def test_mm1_through_random_over_n_servers() -> None:
    # Random splitting of Poisson(λ) over N equal servers gives N independent
    # M/M/1 queues with arrival rate λ/N each.
    n, rho = 4, 0.7
    data = scenario(
        duration="5h",
        warmup="20m",
        **{
            "clients.arrivals.rate": n * rho,
            "servers.0.count": n,
            "balancer": {"algorithm": "random"},
        },
    )
    runs = replicate(data, R, "latency_mean", "latency_p99")
    # wrong model: service 5 % slower, ρ = 0.735: mean 3.96 s instead of 3.33 s.
    # Smallest detectable bias (measured): mean < 5 %, p99 8.1 %.
    check(
        runs["latency_mean"][:, 0],
        theory.mm1_mean_response(rho, 1.0),
        theory.mm1_mean_response(rho, SLOWER),
    )
    check(
        runs["latency_p99"][:, 0],
        theory.mm1_response_quantile(rho, 1.0, 0.99),
        theory.mm1_response_quantile(rho, SLOWER, 0.99),
        detects=0.09,
    )


def test_mmc_erlang_c_through_one_server_with_c_workers() -> None:
    c, lam = 4, 3.2
    data = scenario(
        duration="4h", warmup="10m", **{"clients.arrivals.rate": lam, "servers.0.workers": c}
    )
    runs = replicate(data, R, "wait_mean", "latency_mean")
    # wrong model: service 5 % slower (ρ 0.8 → 0.84). Smallest detectable
    # bias (measured): wait 7.8 %; response (same SE, a larger value) ~3.4 %.
    check(
        runs["wait_mean"][:, 0],
        theory.mmc_mean_wait(lam, 1.0, c),
        theory.mmc_mean_wait(lam, SLOWER, c),
        detects=0.08,
    )
    check(
        runs["latency_mean"][:, 0],
        theory.mmc_mean_response(lam, 1.0, c),
        theory.mmc_mean_response(lam, SLOWER, c),
    )


@pytest.mark.parametrize(
    ("service", "detects"),
    [
        # smallest detectable bias of the mean wait (measured): 6.1 %, 11.9 %, 7.9 %
        ({"dist": "deterministic", "value": 1.0}, 0.07),  # M/D/1
        ({"dist": "gamma", "mean": 1.0, "cv": 1.5}, 0.13),  # M/G/1, more variable
        ({"dist": "lognormal", "mean": 1.0, "cv": 0.5}, 0.09),
    ],
    ids=["M/D/1", "M/G/1-gamma", "M/G/1-lognormal"],
)
def test_pollaczek_khinchine_mean_wait(service: dict[str, object], detects: float) -> None:
    lam = 0.6
    data = scenario(
        duration="5h", warmup="20m", **{"clients.arrivals.rate": lam, "clients.service": service}
    )
    dist = load(data=data).base.clients.service
    wait = replicate(data, R, "wait_mean")["wait_mean"][:, 0]
    expected = theory.pk_mean_wait(lam, dist.mean, dist.variance)
    # wrong formula: the M/M/1 wait (variance = mean²), off by (1 + cv²)/2:
    # ×0.5 for M/D/1, ×1.625 for gamma cv 1.5, ×0.625 for lognormal cv 0.5
    check(wait, expected, theory.pk_mean_wait(lam, dist.mean, dist.mean**2), detects)
    # wrong model: every service 5 % slower (mean ×1.05, variance ×1.1025): +19 %
    slower = theory.pk_mean_wait(lam, 1.05 * dist.mean, 1.05**2 * dist.variance)
    check(wait, expected, slower, detects)


def test_utilisation_and_throughput_match_offered_load() -> None:
    # Utilisation = λ E[S] / (c·speed), throughput = λ; both from the same runs.
    lam, speed, workers = 1.5, 2.0, 1
    data = scenario(
        **{
            "clients.arrivals.rate": lam,
            "servers.0.speed": speed,
            "servers.0.workers": workers,
        }
    )
    runs = replicate(data, R, "utilization_mean", "throughput")
    # wrong models: service 5 % slower (utilisation 0.7875), 5 % of requests
    # lost; both metrics detect biases under 5 % (measured)
    check(runs["utilization_mean"][:, 0], lam / speed, 1.05 * lam / speed)
    check(runs["throughput"][:, 0], lam, 0.95 * lam)


def test_power_of_two_beats_random_at_high_load() -> None:
    # Paired replications (same seeds, so the same workload for both): the
    # mean of the per-replication differences is many SEs above zero.
    data = scenario(
        duration="2h",
        warmup="10m",
        **{
            "clients.arrivals.rate": 8 * 0.9,
            "servers.0.count": 8,
            "compare": {"balancer.algorithm": ["random", "power_of_two"]},
        },
    )
    mean = replicate(data, R, "latency_mean")["latency_mean"]
    difference = mean[:, 0] - mean[:, 1]
    t, se = t_stat(difference, 0.0)
    assert t > Z, (difference.mean(), se)
    # and by a margin theory expects: M/M/1 at ρ=0.9 gives 10 s; JSQ(2) over
    # eight servers stays far below that.
    assert mean[:, 1].mean() < 0.5 * mean[:, 0].mean()
