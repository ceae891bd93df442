"""A latency histogram on fixed log-spaced bins, so runs merge by adding counts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

BINS_PER_DECADE = 40
#: Fixed, log-spaced latency bin edges from 1 µs to 1e5 s, 40 per decade (a bin
#: is 5.9 % wide). Every run uses the same edges, so histograms add up.
EDGES: np.ndarray = 10.0 ** (np.arange(-6 * BINS_PER_DECADE, 5 * BINS_PER_DECADE + 1) / 40)
N_BINS = len(EDGES) - 1


@dataclass(frozen=True)
class LatencyHistogram:
    """Counts of latencies in the fixed :data:`EDGES` bins, mergeable by ``+``.

    ``counts`` has ``N_BINS + 2`` slots: below 1 µs, the bins, then 1e5 s and
    above. Quantiles read from it are exact to within one bin (±5.9 %).
    """

    counts: np.ndarray = field(default_factory=lambda: np.zeros(N_BINS + 2, dtype=np.int64))

    @classmethod
    def of(cls, values: np.ndarray) -> LatencyHistogram:
        """The histogram of ``values`` (seconds; NaNs are left out)."""
        values = np.asarray(values, dtype=np.float64)
        values = values[~np.isnan(values)]
        slots = np.searchsorted(EDGES, values, side="right")  # 0 = underflow
        return cls(np.bincount(slots, minlength=N_BINS + 2).astype(np.int64))

    @classmethod
    def from_sparse(cls, slots: Sequence[int], counts: Sequence[int]) -> LatencyHistogram:
        full = np.zeros(N_BINS + 2, dtype=np.int64)
        full[np.asarray(slots, dtype=np.int64)] = np.asarray(counts, dtype=np.int64)
        return cls(full)

    def sparse(self) -> tuple[list[int], list[int]]:
        """(slot, count) of the non-empty slots."""
        slots = np.flatnonzero(self.counts)
        return slots.tolist(), self.counts[slots].tolist()

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        return LatencyHistogram(self.counts + other.counts)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1), log-interpolated within its bin; NaN if empty."""
        total = self.total
        if total == 0:
            return math.nan
        cumulative = np.cumsum(self.counts)
        target = q * total
        slot = int(np.searchsorted(cumulative, target, side="left"))
        slot = min(max(slot, 0), N_BINS + 1)
        if slot == 0:
            return float(EDGES[0])
        if slot == N_BINS + 1:
            return float(EDGES[-1])
        lo, hi = EDGES[slot - 1], EDGES[slot]
        before = cumulative[slot] - self.counts[slot]
        fraction = (target - before) / self.counts[slot] if self.counts[slot] else 0.0
        return float(lo * (hi / lo) ** min(max(fraction, 0.0), 1.0))

    def mean(self) -> float:
        """Mean over the bins' geometric centres (±3 %); NaN if empty."""
        total = self.total
        if total == 0:
            return math.nan
        centres = np.r_[EDGES[0], np.sqrt(EDGES[:-1] * EDGES[1:]), EDGES[-1]]
        return float((centres * self.counts).sum() / total)
