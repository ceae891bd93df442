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
"""

from __future__ import annotations

import numpy as np
import pytest

from lbsim.analysis import theory
from tests.conftest import replicate, scenario

R = 10
Z = 4.8  # two-sided t(9) quantile at 0.999


def within(estimates: np.ndarray, expected: float) -> tuple[bool, str]:
    mean = float(np.mean(estimates))
    se = float(np.std(estimates, ddof=1) / np.sqrt(len(estimates)))
    t = (mean - expected) / se
    return abs(t) < Z, f"mean {mean:.4f} vs theory {expected:.4f}: {t:+.2f} SE (SE {se:.4f})"


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
    mean = replicate(data, R, "latency_mean")[:, 0]
    ok, message = within(mean, theory.mm1_mean_response(rho, 1.0))
    assert ok, message
    p99 = replicate(data, R, "latency_p99")[:, 0]
    ok, message = within(p99, theory.mm1_response_quantile(rho, 1.0, 0.99))
    assert ok, message


def test_mmc_erlang_c_through_one_server_with_c_workers() -> None:
    c, lam = 4, 3.2
    data = scenario(
        duration="4h", warmup="10m", **{"clients.arrivals.rate": lam, "servers.0.workers": c}
    )
    wait = replicate(data, R, "wait_mean")[:, 0]
    ok, message = within(wait, theory.mmc_mean_wait(lam, 1.0, c))
    assert ok, message
    response = replicate(data, R, "latency_mean")[:, 0]
    ok, message = within(response, theory.mmc_mean_response(lam, 1.0, c))
    assert ok, message


@pytest.mark.parametrize(
    "service",
    [
        {"dist": "deterministic", "value": 1.0},  # M/D/1
        {"dist": "gamma", "mean": 1.0, "cv": 1.5},  # M/G/1, more variable than exponential
        {"dist": "lognormal", "mean": 1.0, "cv": 0.5},
    ],
    ids=["M/D/1", "M/G/1-gamma", "M/G/1-lognormal"],
)
def test_pollaczek_khinchine_mean_wait(service: dict[str, object]) -> None:
    lam = 0.6
    data = scenario(
        duration="5h", warmup="20m", **{"clients.arrivals.rate": lam, "clients.service": service}
    )
    from lbsim.scenario import load

    dist = load(data=data).base.clients.service
    wait = replicate(data, R, "wait_mean")[:, 0]
    ok, message = within(wait, theory.pk_mean_wait(lam, dist.mean, dist.variance))
    assert ok, message


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
    util = replicate(data, R, "utilization_mean")[:, 0]
    ok, message = within(util, lam * 1.0 / speed)
    assert ok, message
    throughput = replicate(data, R, "throughput")[:, 0]
    ok, message = within(throughput, lam)
    assert ok, message


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
    mean = replicate(data, R, "latency_mean")
    difference = mean[:, 0] - mean[:, 1]
    se = difference.std(ddof=1) / np.sqrt(R)
    assert difference.mean() / se > Z, (difference.mean(), se)
    # and by a margin theory expects: M/M/1 at ρ=0.9 gives 10 s; JSQ(2) over
    # eight servers stays far below that.
    assert mean[:, 1].mean() < 0.5 * mean[:, 0].mean()
