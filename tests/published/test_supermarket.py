"""Mitzenmacher's supermarket model (scenarios/published/supermarket.yaml).

T_d(λ) = Σ_{i≥1} λ^((d^i − d)/(d − 1)) service times for d ≥ 2, and 1/(1 − λ)
for d = 1 (random routing: independent M/M/1 queues, exact for any n). At
λ = 0.9: T_1 = 10, T_2 = 1 + 0.9² + 0.9⁶ + 0.9¹⁴ + 0.9³⁰ + ... = 2.614,
T_3 = 1 + 0.9³ + 0.9¹² + 0.9³⁹ + ... = 2.03.

Tolerances. The noise of one 1,000 s run is estimated from 10 batch means
of 100 s each (for d ≥ 2 a queue relaxes within a few service times, so the
batches are close to independent): a standard error of ≈ 1.1 % of the mean,
asserted below 1.5 % here. T_d is the n → ∞ limit; with n = 100 servers the
mean is a little higher (≈ +2 % measured for d = 2 and 3, as Mitzenmacher's
own 100-queue simulations show). So d ≥ 2 passes within 5 % (the +2 % bias
plus 2 standard errors); a wrong d (T_2 against T_3) is 29 % off. For d = 1
the batches are shorter than M/M/1's relaxation time at ρ = 0.9
(≈ 1/(1 − √ρ)² = 380 s), so their standard error (≈ 2.7 %) is understated
and the tolerance is 8 %.
"""

from __future__ import annotations

import numpy as np

from tests.conftest import Bundled

LAMBDA = 0.9
WARMUP, DURATION, BATCHES = 200.0, 1200.0, 10


def t_d(lam: float, d: int) -> float:
    if d == 1:
        return 1 / (1 - lam)
    return sum(lam ** ((d**i - d) / (d - 1)) for i in range(1, 40))


def test_sojourn_follows_the_supermarket_limit(bundled: Bundled) -> None:
    assert round(t_d(LAMBDA, 2), 2) == 2.61 and round(t_d(LAMBDA, 3), 2) == 2.03
    result = bundled("published/supermarket.yaml")
    requests = result.requests
    for d, variant in enumerate(
        ["random", "power_of_two(choices=2)", "power_of_two(choices=3)"], start=1
    ):
        rows = requests[(requests["variant"] == variant) & (requests["arrival"] >= WARMUP)]
        sojourn = (rows["end"] - rows["arrival"]).to_numpy()
        batch = ((rows["arrival"].to_numpy() - WARMUP) // ((DURATION - WARMUP) / BATCHES)).astype(
            int
        )
        means = np.array([sojourn[batch == k].mean() for k in range(BATCHES)])
        mean = float(sojourn.mean())
        relative_se = float(means.std(ddof=1) / np.sqrt(BATCHES)) / mean
        expected = t_d(LAMBDA, d)
        tolerance = 0.05 if d > 1 else 0.08
        report = f"d={d}: {mean:.3f} vs T_d {expected:.3f} (SE {relative_se:.1%})"
        assert abs(mean / expected - 1) < tolerance, report
        if d > 1:
            assert relative_se < 0.015, report
            assert abs(mean / t_d(LAMBDA, 5 - d) - 1) > 0.2, report  # T_2 vs T_3 told apart
