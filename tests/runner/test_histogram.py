"""The latency histogram: bucket bounds, read-back error, merging, serialisation.

The error bound is deterministic, not statistical: every value lands in the
bucket [lo, hi) that contains it, a bucket is at most lo/128 wide, and a read
order statistic is placed inside the same bucket, so it is within 1/128 of
the truth relative to the truth; a quantile interpolates two such order
statistics with numpy's weights, so it keeps the bound.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lbsim.runner.histogram import EDGES, N_BINS, RELATIVE_ERROR, LatencyHistogram, slots_of

RNG = np.random.default_rng(7)
SAMPLES = {
    "exponential": RNG.exponential(0.1, 20_000),
    "lognormal (6 decades)": RNG.lognormal(-3.0, 2.5, 20_000),
    "uniform": RNG.uniform(0.5, 0.6, 20_000),
    "few": np.array([0.2, 0.3, 7.0]),
}
QS = (0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0)


def test_buckets_are_log_linear_and_at_most_one_128th_wide() -> None:
    assert len(EDGES) == N_BINS + 1 and np.all(np.diff(EDGES) > 0)
    widths = np.diff(EDGES) / EDGES[:-1]
    assert widths.max() == pytest.approx(1 / 128) and RELATIVE_ERROR == 1 / 128 < 0.01
    # within an octave the buckets are equally wide (linear); octaves double (log)
    assert np.allclose(np.diff(EDGES[:128]), EDGES[1] - EDGES[0])
    assert EDGES[128] == 2 * EDGES[0]


def test_every_value_lands_in_the_bucket_that_contains_it() -> None:
    values = np.r_[SAMPLES["lognormal (6 decades)"], EDGES[1:-1], np.nextafter(EDGES[1:-1], 0)]
    slots = slots_of(values)
    assert np.all((EDGES[slots - 1] <= values) & (values < EDGES[slots]))


@pytest.mark.parametrize("name", SAMPLES)
def test_quantiles_are_within_the_stated_relative_error(name: str) -> None:
    values = SAMPLES[name]
    histogram = LatencyHistogram.of(values)
    for q in QS:
        exact = float(np.quantile(values, q))
        assert abs(histogram.quantile(q) - exact) <= RELATIVE_ERROR * exact, q
    assert histogram.quantile(0.0) == values.min() and histogram.quantile(1.0) == values.max()
    assert histogram.total == len(values) and histogram.mean() == pytest.approx(values.mean())


def test_merged_histograms_equal_the_histogram_of_all_values() -> None:
    a, b, c = np.array_split(SAMPLES["lognormal (6 decades)"], 3)
    merged = LatencyHistogram.of(a) + LatencyHistogram.of(b)
    merged.merge(LatencyHistogram.of(c))
    whole = LatencyHistogram.of(np.r_[a, b, c])
    assert np.array_equal(merged.counts, whole.counts)
    assert (merged.min, merged.max) == (whole.min, whole.max)
    assert merged.sum == pytest.approx(whole.sum, rel=1e-12)  # float addition order only


def test_extremes_nan_and_empty() -> None:
    edge = LatencyHistogram.of(np.array([0.0, 1e-10, 2.0**20, 1e7, 0.5, np.nan]))
    assert edge.counts[0] == 2 and edge.counts[-1] == 2 and edge.total == 5
    assert edge.quantile(1.0) == 1e7 and edge.quantile(0.0) == 0.0
    assert math.isnan(LatencyHistogram().quantile(0.5)) and math.isnan(LatencyHistogram().mean())


def test_dict_round_trip_keeps_counts_and_exact_values() -> None:
    histogram = LatencyHistogram.of(SAMPLES["exponential"])
    back = LatencyHistogram.from_dict(histogram.to_dict())
    assert np.array_equal(back.counts, histogram.counts)
    assert (back.sum, back.min, back.max) == (histogram.sum, histogram.min, histogram.max)
    # without the exact values (an old cache record) the bucket bounds stand in
    slots, counts = histogram.sparse()
    coarse = LatencyHistogram.from_sparse(slots, counts)
    assert coarse.min <= histogram.min and coarse.max >= histogram.max
    assert coarse.mean() == pytest.approx(histogram.mean(), rel=RELATIVE_ERROR)
