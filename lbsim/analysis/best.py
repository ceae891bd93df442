"""The best value of each summary column, never held by a variant that fails more.

Over ok requests alone, the variant that fails the most can look fastest: its
slow requests timed out and left the sample. So every table (terminal, HTML,
notebook) marks best values with :func:`mark`:

1. the *reference* is the variant with the lowest ``error_rate``;
2. a variant *fails more* when its error rate is above the reference's beyond
   noise: the two-proportion z statistic
   ``(p - p_ref) / sqrt(p̄ (1 - p̄) (1/n + 1/n_ref))`` (``p̄`` pooled, ``n`` the
   measured requests) exceeds :data:`Z_LIMIT` = 3;
3. in every column with a direction but the shares of failed requests
   (``error_rate``, the error kinds, a canary's errors: over every request, so
   no survivor can flatter them), the best value is the best among the
   variants that do not fail more; a variant that fails more but would have
   been best is *flagged* instead. (Guarding an error share marked the higher
   of two canary error rates best.)

The test treats requests as independent, which they are not (failures come
in bursts), so its standard error is a lower bound: at 3 of them a real
difference is flagged while equal error rates are rarely (one-sided 0.13% for
independent requests) told apart. Frames without ``requests`` and
``error_rate`` (sweep means, hand-made tables) get the plain rule.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lbsim.analysis.metrics import Better, describe

Z_LIMIT = 3.0
ERRORS = "error_rate"


@dataclass(frozen=True)
class Marks:
    """Per column, the rows marked best and the rows flagged (would be best,
    but fail more); ``failing_more`` are those rows, ``reference`` the row
    with the fewest errors."""

    best: dict[str, set[int]] = field(default_factory=dict)
    flagged: dict[str, set[int]] = field(default_factory=dict)
    failing_more: set[int] = field(default_factory=set)
    reference: int | None = None


def _floats(values: Sequence[float] | pd.Series) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(list(values)), errors="coerce"), dtype=float)


def best_rows(
    values: Sequence[float] | pd.Series, better: Better, eligible: set[int] | None = None
) -> set[int]:
    """Positions of the best value(s) among ``eligible`` rows (default: all);
    empty if no direction, fewer than two values, or all values equal."""
    if better is None:
        return set()
    array = _floats(values)
    finite = np.isfinite(array)
    if finite.sum() < 2 or np.ptp(array[finite]) == 0:
        return set()
    chosen = [i for i in range(array.size) if finite[i] and (eligible is None or i in eligible)]
    if not chosen:
        return set()
    pick = min if better == "lower" else max
    target = pick(array[i] for i in chosen)
    return {i for i in chosen if math.isclose(array[i], target, rel_tol=1e-9)}


def z_statistic(p: float, n: float, p_ref: float, n_ref: float) -> float:
    """Two-proportion z of ``p`` (of ``n``) against ``p_ref`` (of ``n_ref``), pooled."""
    if n <= 0 or n_ref <= 0:
        return 0.0
    pooled = (p * n + p_ref * n_ref) / (n + n_ref)
    variance = pooled * (1 - pooled) * (1 / n + 1 / n_ref)
    if variance <= 0:
        return 0.0
    return (p - p_ref) / math.sqrt(variance)


def failing_more(summary: pd.DataFrame) -> tuple[int | None, set[int]]:
    """The reference row (fewest errors) and the rows whose error rate is
    above it beyond noise (z > :data:`Z_LIMIT`)."""
    if ERRORS not in summary or "requests" not in summary:
        return None, set()
    errors, counts = _floats(summary[ERRORS]), _floats(summary["requests"])
    defined = [i for i in range(len(errors)) if np.isfinite(errors[i]) and counts[i] > 0]
    if not defined:
        return None, set()
    ref = min(defined, key=lambda i: errors[i])
    worse = {
        i for i in defined if z_statistic(errors[i], counts[i], errors[ref], counts[ref]) > Z_LIMIT
    }
    return ref, worse


def mark(summary: pd.DataFrame, columns: Sequence[str], unranked: Collection[str] = ()) -> Marks:
    """Best and flagged rows of each of ``columns`` (directions from the
    catalogue; none for the ``unranked`` ones, e.g. from
    :func:`~lbsim.analysis.metrics.unranked_metrics`)."""
    reference, worse = failing_more(summary)
    eligible = set(range(len(summary))) - worse
    best: dict[str, set[int]] = {}
    flagged: dict[str, set[int]] = {}
    for column in columns:
        better = None if column in unranked else describe(column).better
        guarded = not _failure_share(column) and bool(worse)
        best[column] = best_rows(summary[column], better, eligible if guarded else None)
        would_be = _would_be_best(summary[column], better, best[column]) if guarded else set()
        flagged[column] = would_be & worse
    return Marks(best, flagged, worse, reference)


def _failure_share(column: str) -> bool:
    """A share of requests that failed (or of wasted work): a fraction, lower better."""
    spec = describe(column)
    return column == ERRORS or (spec.quantity == "fraction" and spec.better == "lower")


def _would_be_best(values: pd.Series, better: Better, best: set[int]) -> set[int]:
    """Rows at least as good as the marked best value."""
    if not best:
        return set()
    array = _floats(values)
    target = array[next(iter(best))]
    close = np.isclose(array, target, rtol=1e-9, atol=0)
    ahead = (array < target) if better == "lower" else (array > target)
    return {int(i) for i in np.flatnonzero(close | ahead)}
