"""Confidence intervals across replications (Student t, or a BCa bootstrap
for percentile metrics; a bootstrap wherever a t interval of a quantity that
cannot be negative would go below zero, or the t interval clipped at zero
with fewer than 10 replications)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from lbsim.streams import stream

CiMethod = Literal["t", "bootstrap"]


MIN_BOOTSTRAP = 10  # replications below which a bootstrap interval is far too narrow
PERCENTILE_METRICS = ("_p50", "_p90", "_p95", "_p99", "_p999", "_max")


def _is_percentile(metric: str) -> bool:
    return metric.endswith(PERCENTILE_METRICS)


def confidence_intervals(
    runs: pd.DataFrame,
    by: Sequence[str] = ("point", "variant", "metric"),
    confidence: float = 0.95,
    method: CiMethod = "t",
    seed: int = 0,
) -> pd.DataFrame:
    """Mean and confidence interval of ``value`` across replications per group.

    ``method="t"``: Student t-interval mean ± t(1-α/2, n-1)·s/√n.
    ``method="bootstrap"``: a BCa bootstrap (9999 resamples of the
    replications, generator ``streams.stream(seed, "bootstrap")`` fresh for
    each group) for percentile and maximum metrics, t for the others.
    Either way, a group whose values are all ≥ 0 (latencies, rates, counts)
    and whose t interval would reach below zero gets the bootstrap interval
    instead (it stays within the values' range), marked ``bootstrap``; with
    fewer than ``MIN_BOOTSTRAP`` replications, too few to resample, the t
    interval clipped at zero, marked ``t, clipped at 0``.
    NaN values are left out; with fewer than two values the interval is NaN.
    Returns the group columns, then ``n, mean, std, ci_low, ci_high, ci_method``.
    """
    from scipy import stats

    keys = list(by)
    grouped = runs.groupby(keys, sort=False, observed=True)["value"]
    table = grouped.agg(n="count", mean="mean", std="std").reset_index()
    n = table["n"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf(0.5 + confidence / 2, np.where(n >= 2, n - 1, np.nan))
        half = quantile * table["std"].to_numpy() / np.sqrt(n)
    mean = table["mean"].to_numpy()
    table["ci_low"] = np.where(n >= 2, mean - half, np.nan)
    table["ci_high"] = np.where(n >= 2, mean + half, np.nan)
    table["ci_method"] = "t"
    wanted = np.zeros(len(table), dtype=bool)
    if method == "bootstrap" and "metric" in keys:
        wanted = np.array(table["metric"].map(_is_percentile), dtype=bool)
    low = grouped.min().to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        negative = (low >= 0) & (table["ci_low"].to_numpy(dtype=np.float64) < 0)
    # a bootstrap needs replications to resample; with few, clip at zero
    few = negative & (n < MIN_BOOTSTRAP)
    table.loc[few, "ci_low"] = 0.0
    table.loc[few, "ci_method"] = "t, clipped at 0"
    wanted |= negative & ~few
    if wanted.any():
        groups = dict(iter(grouped))
        for row in np.flatnonzero(wanted):
            ident = tuple(table.loc[row, keys])
            values = groups[ident if len(keys) > 1 else ident[0]].to_numpy(dtype=np.float64)
            lo, hi = _bootstrap(values[~np.isnan(values)], confidence, seed)
            table.loc[row, ["ci_low", "ci_high"]] = lo, hi
            table.loc[row, "ci_method"] = "bootstrap"
    table["n"] = table["n"].astype(np.int64)
    return table


def _bootstrap(values: np.ndarray, confidence: float, seed: int) -> tuple[float, float]:
    from scipy import stats

    if len(values) < 2:
        return math.nan, math.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("BCa", "percentile"):
            result = stats.bootstrap(
                (values,),
                np.mean,
                confidence_level=confidence,
                n_resamples=9999,
                method=method,
                rng=stream(seed, "bootstrap"),
            )
            lo, hi = result.confidence_interval
            if np.isfinite(lo) and np.isfinite(hi):
                return float(lo), float(hi)
    return math.nan, math.nan
