"""The client side: arrival processes, distributions, client addresses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from lbsim.engine.workload import arrival_times, client_addresses, draw_workload
from lbsim.scenario import Arrivals, Clients, load
from lbsim.streams import stream
from tests.conftest import scenario


def test_poisson_count_and_gaps() -> None:
    arrivals = Arrivals(process="poisson", rate=50.0)
    times = arrival_times(arrivals, 2000.0, np.random.default_rng(3))
    # count ~ Poisson(100000), sd 316: within 4.5 sd = 1423 (two-sided
    # P = 7e-6 for a correct process); catches a rate off by 1.4 % (50.7/s).
    assert abs(len(times) - 100_000) < 4.5 * np.sqrt(100_000)
    gaps = np.diff(times)
    # exponential gaps: Kolmogorov-Smirnov against Exp(1/50) at the 0.1 % level.
    # Its critical distance is sqrt(ln(2/0.001)/2)/sqrt(n) = 1.95/316 = 0.0062;
    # an exponential of mean off by d is at most d/e away in CDF, so a gap
    # mean off by 1.7 % is caught.
    assert stats.kstest(gaps, "expon", args=(0, 1 / 50)).pvalue > 1e-3


def test_profile_thinning_follows_the_rate() -> None:
    arrivals = Arrivals.model_validate(
        {"profile": [{"at": 0, "rate": 10}, {"at": 100, "rate": 110}, {"at": 200, "rate": 10}]}
    )
    times = arrival_times(arrivals, 300.0, np.random.default_rng(5))
    # expected counts per 50 s window = integral of the piecewise-linear rate
    edges = np.arange(0, 301, 50)
    counts, _ = np.histogram(times, edges)
    grid = np.linspace(0, 300, 30_001)
    rate = np.interp(grid, [0, 100, 200], [10, 110, 10])
    expected = [
        np.trapezoid(rate[(grid >= a) & (grid <= b)], grid[(grid >= a) & (grid <= b)])
        for a, b in itertools.pairwise(edges)
    ]
    # each window's count is Poisson(mean): within 4.5 sd, i.e. 4.5·sqrt(mean) =
    # 188 of 1750 (11 %) for the quietest window, 293 of 4250 (7 %) for the
    # busiest; six windows at P = 7e-6 each. Caught: a rate scaled by 7 %, or
    # a profile lagging by 6 s (on the 1/s² ramps a lag of τ moves a 50 s
    # window's count by 50·τ).
    for seen, mean in zip(counts, expected, strict=True):
        assert abs(seen - mean) < 4.5 * np.sqrt(mean), (seen, mean)


def test_deterministic_profile_hits_every_whole_integrated_rate() -> None:
    arrivals = Arrivals.model_validate(
        {"process": "deterministic", "profile": [{"at": 0, "rate": 1}, {"at": 10, "rate": 3}]}
    )
    times = arrival_times(arrivals, 20.0, np.random.default_rng(0))
    # Λ(t) = t + t²/10 up to 10 s (=20), then 3/s: 20 + 30 = 50 arrivals
    assert len(times) == 50
    first = times[times < 10]
    assert np.allclose(first + first**2 / 10, np.arange(len(first)))
    assert np.allclose(np.diff(times[times >= 10]), 1 / 3)


@pytest.mark.parametrize(
    "service",
    [
        {"dist": "exponential", "mean": 0.5},
        {"dist": "lognormal", "mean": 0.2, "cv": 1.5},
        {"dist": "gamma", "mean": 2, "cv": 0.5},
        {"dist": "pareto", "alpha": 1.5, "low": 0.01, "high": 10},
        {"dist": "empirical", "values": ["10ms", "20ms", "1s"]},
    ],
)
def test_distributions_know_their_moments(service: dict[str, object]) -> None:
    dist = load(data=scenario(**{"clients.service": service})).base.clients.service
    n = 400_000
    sample = dist.sample(np.random.default_rng(11), n)
    # sample mean within 5 standard errors sqrt(σ²/n) of the stated mean
    # (two-sided P = 6e-7): catches a mean off by 5·cv/sqrt(n) = 0.79 % × cv
    # (0.79 % exponential, 1.2 % lognormal cv 1.5, 0.4 % gamma cv 0.5).
    assert abs(sample.mean() - dist.mean) < 5 * np.sqrt(dist.variance / n)
    # sample variance within 5 standard errors of the stated variance; its SE
    # is sqrt((μ4 - σ⁴)/n), with μ4 the fourth central moment (estimated from
    # the sample): relative SE sqrt((kurtosis - 1)/n), 0.45 % for the
    # exponential (kurtosis 9), so a variance off by 2.2 % is caught there,
    # 11 % for lognormal cv 1.5 (kurtosis 209), ~40 % for the bounded Pareto.
    fourth = np.mean((sample - sample.mean()) ** 4)
    se_variance = np.sqrt((fourth - sample.var() ** 2) / n)
    assert abs(sample.var() - dist.variance) < 5 * se_variance


def test_empirical_from_csv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "times.csv").write_text("latency\n0.1\n0.2\n0.3\n")
    path = tmp_path / "s.yaml"
    path.write_text(
        "duration: 10\nclients:\n  arrivals: {rate: 1}\n"
        "  service: {dist: empirical, file: times.csv}\nservers: [{name: web}]\n"
    )
    dist = load(path).base.clients.service
    assert dist.mean == pytest.approx(0.2)


def test_nat_concentrates_addresses() -> None:
    clients = Clients.model_validate(
        {
            "count": 1000,
            "nat": {"gateways": 2, "fraction": 0.5},
            "arrivals": {"rate": 1},
            "service": {"dist": "exponential", "mean": 1},
        }
    )
    ips = client_addresses(clients, stream(1, "client-addresses"))
    _, counts = np.unique(ips, return_counts=True)
    # about half the clients share two addresses: the number behind NAT is
    # Binomial(1000, 0.5), sd 15.8, within 5 sd = 79 (catches a fraction off
    # by 0.08); the larger gateway holds at least half of them (≥ 250 ± 8), so
    # > 200 fails only for a broken split.
    top = np.sort(counts)
    assert top[-1] > 200 and top[-1] + top[-2] == pytest.approx(500, abs=5 * np.sqrt(250))


def test_subnets_group_clients_in_slash_24s() -> None:
    clients = Clients.model_validate(
        {
            "count": 1000,
            "subnets": 5,
            "arrivals": {"rate": 1},
            "service": {"dist": "exponential", "mean": 1},
        }
    )
    ips = client_addresses(clients, stream(1, "client-addresses"))
    assert len(np.unique(ips >> 8)) <= 5


def test_workload_streams_are_independent() -> None:
    # Changing the service distribution must not move arrivals (separate streams).
    a = draw_workload(load(data=scenario()).base)
    b = draw_workload(
        load(data=scenario(**{"clients.service": {"dist": "gamma", "mean": 1, "cv": 2}})).base
    )
    assert np.array_equal(a.arrival, b.arrival)
    assert np.array_equal(a.client, b.client)
    assert not np.array_equal(a.demand, b.demand)
