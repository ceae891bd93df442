"""A mergeable latency histogram: HdrHistogram-style log-linear buckets.

Each power of two (octave) from 2^-30 s (about 1 ns) to 2^20 s (about 12
days) is split into :data:`SUB_BUCKETS` equal-width buckets, as in
HdrHistogram (Tene) with 128 sub-buckets. A bucket ``[lo, hi)`` is then at
most ``1/128`` of ``lo`` wide, so any value read back from it (a quantile)
is within 0.79 % of the true one. Every run uses the same buckets, so
histograms of replications, variants and workers merge by adding counts;
the count, sum, minimum and maximum are kept exactly alongside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

SUB_BUCKETS = 128
MIN_EXPONENT, MAX_EXPONENT = -30, 20  # octaves [2^e, 2^(e+1)) for e in this range
#: Relative width bound of a bucket: a value read back is within this of the truth.
RELATIVE_ERROR = 1 / SUB_BUCKETS
_OCTAVES = MAX_EXPONENT - MIN_EXPONENT
N_BINS = _OCTAVES * SUB_BUCKETS
#: Lower edges of the buckets, then the upper edge of the last (``N_BINS + 1``).
EDGES: np.ndarray = np.r_[
    (
        np.ldexp(1.0, np.arange(MIN_EXPONENT, MAX_EXPONENT))[:, None]
        * (1.0 + np.arange(SUB_BUCKETS) / SUB_BUCKETS)[None, :]
    ).reshape(-1),
    math.ldexp(1.0, MAX_EXPONENT),
]
_BOUNDS = np.r_[0.0, EDGES, math.inf]  # slot s spans [_BOUNDS[s], _BOUNDS[s + 1])


def slots_of(values: np.ndarray) -> np.ndarray:
    """Slot of each value: 0 below 2^-30 s (and zero), 1..N_BINS the buckets,
    N_BINS + 1 at 2^20 s and above."""
    mantissa, exponent = np.frexp(values)  # values = mantissa * 2^exponent, mantissa in [0.5, 1)
    octave = exponent.astype(np.int64) - 1 - MIN_EXPONENT
    sub = ((2.0 * mantissa - 1.0) * SUB_BUCKETS).astype(np.int64)
    slots = 1 + octave * SUB_BUCKETS + sub
    slots[values < EDGES[0]] = 0
    slots[values >= EDGES[-1]] = N_BINS + 1
    return slots


class LatencyHistogram:
    """Latency counts in the fixed :data:`EDGES` buckets with exact count,
    sum, min and max; filled by :meth:`add`, merged by ``+`` or :meth:`merge`.

    ``counts`` has ``N_BINS + 2`` slots: below 2^-30 s, the buckets, then
    2^20 s and above (values there are read back clamped to min / max).
    """

    __slots__ = ("counts", "max", "min", "sum")

    def __init__(
        self,
        counts: np.ndarray | None = None,
        *,
        sum: float | None = None,
        min: float = math.inf,
        max: float = -math.inf,
    ) -> None:
        self.counts = np.zeros(N_BINS + 2, dtype=np.int64) if counts is None else counts
        self.sum = float(self._centres_sum() if sum is None else sum)
        self.min, self.max = float(min), float(max)

    @classmethod
    def of(cls, values: np.ndarray) -> LatencyHistogram:
        """The histogram of ``values`` (seconds; NaNs are left out)."""
        histogram = cls()
        histogram.add(values)
        return histogram

    def add(self, values: np.ndarray) -> None:
        """Count ``values`` (seconds; NaNs are left out) in place."""
        values = np.asarray(values, dtype=np.float64)
        values = values[~np.isnan(values)]
        if not len(values):
            return
        self.counts += np.bincount(slots_of(values), minlength=N_BINS + 2)
        self.sum += float(values.sum())
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled sparse (a worker sends a few hundred slots, not 6,402)."""
        return (LatencyHistogram.from_dict, (self.to_dict(),))

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s counts, sum and extremes in place."""
        self.counts += other.counts
        self.sum += other.sum
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        merged = LatencyHistogram(self.counts.copy(), sum=self.sum, min=self.min, max=self.max)
        merged.merge(other)
        return merged

    @classmethod
    def from_sparse(
        cls, slots: Sequence[int], counts: Sequence[int], **exact: float
    ) -> LatencyHistogram:
        """From :meth:`sparse`; ``sum``/``min``/``max`` if kept, else from the buckets."""
        full = np.zeros(N_BINS + 2, dtype=np.int64)
        full[np.asarray(slots, dtype=np.int64)] = np.asarray(counts, dtype=np.int64)
        histogram = cls(full, **exact)
        if "min" not in exact and histogram.total:
            filled = np.flatnonzero(full)
            histogram.min = float(_BOUNDS[filled[0]])
            histogram.max = float(_BOUNDS[filled[-1] + 1])
        return histogram

    def sparse(self) -> tuple[list[int], list[int]]:
        """(slot, count) of the non-empty slots."""
        slots = np.flatnonzero(self.counts)
        return slots.tolist(), self.counts[slots].tolist()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: :meth:`sparse` slots and counts, and the exact values."""
        slots, counts = self.sparse()
        exact = {"sum": self.sum, "min": self.min, "max": self.max} if slots else {}
        return {"slots": slots, "counts": counts, **exact}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyHistogram:
        exact = {k: float(data[k]) for k in ("sum", "min", "max") if k in data}
        return cls.from_sparse(data["slots"], data["counts"], **exact)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def mean(self) -> float:
        """The exact mean; NaN if empty."""
        total = self.total
        return self.sum / total if total else math.nan

    def _centres_sum(self) -> float:
        centres = np.r_[EDGES[0] / 2, (EDGES[:-1] + EDGES[1:]) / 2, EDGES[-1]]
        return float((centres * self.counts).sum())

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1) as :func:`numpy.quantile` defines it
        (linear between the order statistics around rank ``q (n - 1)``), each
        order statistic placed evenly within its bucket, so within
        :data:`RELATIVE_ERROR` of the exact value; NaN if empty."""
        total = self.total
        if total == 0:
            return math.nan
        rank = q * (total - 1)
        below = math.floor(rank)
        lo = self._order_statistic(below)
        hi = self._order_statistic(min(below + 1, total - 1))
        return lo + (hi - lo) * (rank - below)

    def percentiles(self, qs: Sequence[float]) -> list[float]:
        """:meth:`quantile` at each of ``qs`` in percent."""
        return [self.quantile(q / 100) for q in qs]

    def _order_statistic(self, k: int) -> float:
        """The k-th smallest value (0-based), estimated within its bucket
        (the smallest and largest exactly)."""
        if k == 0 or k == self.total - 1:
            return self.min if k == 0 else self.max
        cumulative = np.cumsum(self.counts)
        slot = int(np.searchsorted(cumulative, k, side="right"))
        before = int(cumulative[slot] - self.counts[slot])
        lo = max(float(_BOUNDS[slot]), self.min)
        hi = min(float(_BOUNDS[slot + 1]), self.max)
        return lo + (hi - lo) * (k - before + 0.5) / int(self.counts[slot])
