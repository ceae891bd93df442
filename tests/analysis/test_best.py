"""Best-value marking never favours a variant that fails more, and the
all-requests latency counts every request."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import lbsim
from lbsim.analysis.best import Z_LIMIT, best_rows, mark, z_statistic
from lbsim.analysis.summary import Exact, WithUnanswered
from lbsim.runner.histogram import LatencyHistogram
from tests.conftest import cluster


def test_two_proportion_z_by_hand() -> None:
    # p = 0.5 and 0.3 of 100 each: pooled 0.4, variance 0.4 * 0.6 * (2 / 100) = 0.0048,
    # z = 0.2 / sqrt(0.0048) = 2.88675.
    assert z_statistic(0.5, 100, 0.3, 100) == pytest.approx(2.886751, rel=1e-6)
    assert z_statistic(0.0, 100, 0.0, 100) == 0.0  # no errors anywhere: no evidence
    assert z_statistic(0.3, 100, 0.5, 100) < 0  # fewer errors: never "worse"


def test_best_rows_rules() -> None:
    assert best_rows([3.0, 1.0, 2.0], "lower") == {1}
    assert best_rows([3.0, 1.0, 3.0], "higher") == {0, 2}
    assert best_rows([0.0, 0.0, 0.0], "lower") == set()  # all equal: nothing stands out
    assert best_rows([float("nan"), 1.0, 2.0], "lower") == {1}
    assert best_rows([1.0], "lower") == set()
    assert best_rows([1.0, 2.0], None) == set()
    assert best_rows([3.0, 1.0, 2.0], "lower", eligible={0, 2}) == {2}


def frame(errors: list[float], p99: list[float], n: int = 10_000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": [f"v{i}" for i in range(len(errors))],
            "requests": [n] * len(errors),
            "error_rate": errors,
            "latency_p99": p99,
        }
    )


def test_a_variant_failing_more_is_flagged_not_best() -> None:
    # retry_storm's shape: 56.8% vs 71.6% errors of 10,000 requests is z ≈ 21.9;
    # the one failing more has the lower p99 over its survivors.
    marks = mark(frame([0.568, 0.716], [0.404, 0.331]), ["error_rate", "latency_p99"])
    assert marks.reference == 0 and marks.failing_more == {1}
    assert marks.best == {"error_rate": {0}, "latency_p99": {0}}
    assert marks.flagged == {"error_rate": set(), "latency_p99": {1}}


def test_a_difference_within_noise_does_not_guard() -> None:
    # 1.0% vs 1.3% of 10,000: pooled 1.15%, z = 0.003 / sqrt(0.0115 * 0.9885 * 2e-4) = 1.99.
    assert z_statistic(0.013, 10_000, 0.010, 10_000) < Z_LIMIT
    marks = mark(frame([0.010, 0.013], [0.404, 0.331]), ["latency_p99"])
    assert marks.failing_more == set() and marks.best == {"latency_p99": {1}}
    # The same rates of 40,000 requests each: z = 3.98, beyond noise.
    marks = mark(frame([0.010, 0.013], [0.404, 0.331], n=40_000), ["latency_p99"])
    assert marks.failing_more == {1} and marks.best == {"latency_p99": {0}}


def test_without_request_counts_the_plain_rule_applies() -> None:
    plain = frame([0.568, 0.716], [0.404, 0.331]).drop(columns="requests")
    assert mark(plain, ["latency_p99"]).best == {"latency_p99": {1}}


def numpy_linear(values: np.ndarray, q: float) -> float:
    """numpy's default percentile, by hand, with +∞ for unanswered requests:
    order statistics x_k around rank q (n - 1), linearly interpolated."""
    x = np.sort(values)
    rank = q / 100 * (len(x) - 1)
    lo, frac = math.floor(rank), rank - math.floor(rank)
    if frac == 0:
        return float(x[lo])
    return math.inf if math.isinf(x[lo + 1]) else float(x[lo] + (x[lo + 1] - x[lo]) * frac)


def test_unanswered_requests_count_as_infinite() -> None:
    values = np.arange(1.0, 98.0)  # 97 answered, 3 never: 100 requests
    mixed = WithUnanswered(Exact(values.copy()), 3)
    everything = np.r_[values, [math.inf] * 3]
    qs = [50, 96, 96.9, 97, 99]
    # rank 0.96 * 99 = 95.04 -> between x95 = 96 and x96 = 97: 96.04; rank 96.031 -> ∞.
    assert list(mixed.percentiles(qs)) == [numpy_linear(everything, q) for q in qs]
    assert mixed.percentiles([96])[0] == pytest.approx(96.04)
    assert math.isinf(mixed.percentiles([97])[0])
    histogram = WithUnanswered(LatencyHistogram.of(values), 3)
    assert histogram.percentiles([50])[0] == pytest.approx(50.5, rel=1 / 128)
    assert math.isinf(histogram.max) and math.isinf(mixed.mean())


def test_all_requests_latency_includes_timeouts_at_the_timeout() -> None:
    # Four M/M/1 servers at ρ = 0.9 and a 1 s client timeout: a tenth or so of the
    # requests time out, so p99 over all requests is the timeout, 1 s, while p99
    # over the ok ones is below it.
    data = cluster(**{"clients.arrivals.rate": 3.6, "clients.timeout": "1s", "duration": "10m"})
    data["clients"]["service"]["mean"] = 1.0
    data["clients"]["timeout"] = "1s"
    result = lbsim.run(data)
    row = result.summary.iloc[0]
    requests = result.requests
    latency = requests["latency"].to_numpy().copy()
    latency[np.isnan(latency)] = math.inf
    for name, q in (("latency_all_p50", 50), ("latency_all_p99", 99)):
        assert row[name] == numpy_linear(latency, q)
    assert row["timeout_rate"] > 0.01
    assert row["latency_all_p99"] == pytest.approx(1.0)
    assert row["latency_p99"] < 1.0
    assert row["goodput"] == row["ok"] / (result.meta["duration"] - result.meta["warmup"])


def test_shares_of_failures_are_ranked_plainly() -> None:
    """canary's shape: the variant failing more overall (1.95% vs 0.026% of
    45,876) has the lower canary error rate (4.95% vs 5.94%); over every
    request sent to the canary, so the lower one is best, not flagged, while
    p99 stays guarded."""
    data = frame([0.00026, 0.0195], [0.0957, 0.115], n=45_876)
    data["canary_error_rate"] = [0.0594, 0.0495]
    data["timeout_rate"] = [0.0002, 0.0001]
    marks = mark(data, ["canary_error_rate", "timeout_rate", "latency_p99"])
    assert marks.failing_more == {1}
    assert marks.best["canary_error_rate"] == {1} and marks.flagged["canary_error_rate"] == set()
    assert marks.best["timeout_rate"] == {1}
    assert marks.best["latency_p99"] == {0}
