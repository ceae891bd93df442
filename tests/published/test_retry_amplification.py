"""Retry amplification (Brooker; AWS Builders' Library), against its
analytic load factor (scenarios/published/retry_amplification.yaml).

A request makes A attempts, A = k with probability x^(k−1)(1 − x) for
k ≤ N and A = N + 1 with probability x^N, so E[A] = (1 − x^(N+1)) / (1 − x)
(N + 1 = 4 at x = 1, exactly). The summary's ``retry_amplification`` is
1 + mean retries = mean A; its standard error is sd(A)/√n at the measured
n (≈ 10,900), computed from the same distribution; tolerance 5 SE
(0.006 at x = 0.1 up to 0.04 at x = 0.9: a 1 % bias in the error rate is
caught at x = 0.5).

With Envoy's budget at x = 1 every failed first attempt wants to retry,
so the min_concurrency m = 3 slots are always taken (the 20 % of active
attempts is below 0.1). By renewal-reward each slot serves one request per
cycle: its hold (three back-offs, E = 12.5 + 37.5 + 87.5 ms, and three
1 ms error answers: 140.5 ms) plus the wait for the next failed first
attempt (Poisson, mean 1/λ = 5 ms). Retrying requests per second
λ_r = 3 / 0.1455 s, amplification 1 + N·λ_r/λ = 1.309. The cycle's CV ≈ 0.38
over ≈ 1,130 cycles gives an SE of ≈ 0.0035; tolerance 0.02 (the slots
freeing together, which the renewal argument ignores, adds a little).
"""

from __future__ import annotations

import math

import pytest

from tests.conftest import Bundled

N = 3


def _attempts(x: float) -> tuple[float, float]:
    """Mean and variance of the attempts per request."""
    probabilities = [x ** (k - 1) * (1 - x) for k in range(1, N + 1)] + [x**N]
    mean = sum(k * p for k, p in enumerate(probabilities, start=1))
    second = sum(k * k * p for k, p in enumerate(probabilities, start=1))
    return mean, second - mean**2


@pytest.mark.slow
def test_load_tends_to_one_plus_n_and_a_budget_caps_it(bundled: Bundled) -> None:
    result = bundled("published/retry_amplification.yaml")
    summary = result.summary
    for _, row in summary.iterrows():
        x, budget = row["events.0.rate"], row["clients.retries.budget"]
        amplification = row["retry_amplification"]
        if budget == "null":  # the summary shows a varied JSON value as its text
            mean, variance = _attempts(x)
            assert mean == pytest.approx((1 - x ** (N + 1)) / (1 - x) if x < 1 else N + 1)
            se = math.sqrt(variance / row["requests"])
            assert amplification == pytest.approx(mean, abs=max(5 * se, 1e-12)), (x, budget)
        else:
            assert amplification < 1.4, (x, amplification)
            if x == 1.0:
                rate, hold = 200.0, 0.0125 + 0.0375 + 0.0875 + 3 * 0.001
                retrying = 3 / (hold + 1 / rate)
                assert amplification == pytest.approx(1 + N * retrying / rate, abs=0.02)
