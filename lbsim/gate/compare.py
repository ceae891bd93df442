"""The CI regression gate: is this run worse than the recorded baseline?

:func:`compare` holds a new run against a baseline, metric by metric, for every
variant the two share. Each metric has a direction (from the catalogue,
:mod:`lbsim.analysis.metrics`: a higher latency is worse, a higher throughput
is better) and a *limit*: how much worse
it may get before the gate fails (:func:`parse_limit`):

* ``5%`` -- relative to the baseline value;
* ``+0.1pp`` -- percentage points, for rates (fractions of requests);
* ``+20ms``, ``+2`` -- absolute, in the metric's unit.

Two ways of deciding, depending on what both sides have:

*Single values* (no replications on one side or both): the change of the one
number. Simple, but a different sample path (another seed, or a code change
that draws random numbers differently) moves p99 by several percent on its
own, so a tight limit fails on noise.

*Replications* (both sides ran ``--replications``): replication r of the run
is paired with replication r of the baseline. When the two share their seeds
(same scenario seed, so the same workloads: common random numbers) the paired
differences are free of workload noise and the interval is tight; when they do
not, the pairs are independent and the same interval is still valid, only
wider. The change of the mean is estimated with a 95% Student-t interval
(relative changes as a ratio of means, with the ratio estimator's variance),
and the gate fails only when the *whole* interval lies beyond the limit:
noise alone then fails a build in fewer than 2.5% of runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from lbsim.analysis.metrics import Metric
from lbsim.gate.baseline import CheckError, RunSummary
from lbsim.gate.limits import METRICS, Limit

CONFIDENCE = 0.95

Verdict = Literal["ok", "noise", "regression"]


@dataclass(frozen=True)
class Row:
    """One metric of one variant: the values, the change, the verdict.

    ``change`` is in the limit's terms (a fraction of the baseline for a
    relative limit, the metric's unit otherwise); ``low``/``high`` bound its
    95% interval (NaN without replications). ``baseline`` and ``run`` are
    means over the replications when the interval comes from them.
    """

    variant: str
    metric: str
    limit: Limit
    baseline: float
    run: float
    change: float
    low: float
    high: float
    verdict: Verdict
    replications: int = 0

    @property
    def absolute(self) -> float:
        return self.run - self.baseline

    @property
    def relative(self) -> float:
        return _relative(self.baseline, self.run)


@dataclass
class Comparison:
    """The outcome of :func:`compare`: a row per variant and metric, and notes."""

    name: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    replications: int = 0  # pairs behind each interval; 0: single values
    paired_seeds: bool = False

    @property
    def regressions(self) -> list[Row]:
        return [row for row in self.rows if row.verdict == "regression"]

    @property
    def passed(self) -> bool:
        return not self.regressions

    def frame(self) -> pd.DataFrame:
        """Tidy table: variant, metric, baseline, run, absolute, relative,
        change/low/high (in the limit's terms), limit, verdict."""
        return pd.DataFrame(
            [
                {
                    "variant": r.variant,
                    "metric": r.metric,
                    "baseline": r.baseline,
                    "run": r.run,
                    "absolute": r.absolute,
                    "relative": r.relative,
                    "change": r.change,
                    "low": r.low,
                    "high": r.high,
                    "limit": r.limit.text,
                    "verdict": r.verdict,
                }
                for r in self.rows
            ]
        )


def _relative(base: float, new: float) -> float:
    if base == new or (math.isnan(base) and math.isnan(new)):
        return 0.0
    if base == 0:
        return math.copysign(math.inf, new)
    return (new - base) / abs(base)


def _past(worse: float, limit: Limit) -> bool:
    """Beyond the limit, not merely at it (floating-point slack: 1.05 / 1.0 - 1 > 0.05)."""
    return worse > limit.amount + 1e-9 * max(1.0, abs(limit.amount))


def _worse(info: Metric, change: float) -> float:
    """How much worse a change is (positive: worse), whatever the direction."""
    return change if info.better == "lower" else -change


def _single(variant: str, limit: Limit, base: float, new: float) -> Row:
    info = METRICS[limit.metric]
    if math.isnan(base) and math.isnan(new):
        change = 0.0
    elif math.isnan(new):  # the metric became undefined (e.g. no ok request left)
        change = math.inf if info.better == "lower" else -math.inf
    elif math.isnan(base):
        change = -math.inf if info.better == "lower" else math.inf
    else:
        change = _relative(base, new) if limit.relative else new - base
    verdict: Verdict = "regression" if _past(_worse(info, change), limit) else "ok"
    return Row(variant, limit.metric, limit, base, new, change, math.nan, math.nan, verdict)


def paired_interval(
    base: np.ndarray, new: np.ndarray, relative: bool, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Estimate and ``confidence`` t-interval of the change of the mean.

    Absolute: the mean of the paired differences ``d = new - base``, with
    standard error ``sd(d)/sqrt(n)``. Relative: the ratio of means
    ``R = mean(d)/mean(base)`` with the ratio estimator's standard error
    ``sd(d - R*base) / (sqrt(n) * |mean(base)|)`` (first-order delta method).
    A relative change from a zero mean is 0 or +-infinity.
    """
    n = len(base)
    diff = new - base
    t = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
    mean = float(diff.mean())
    se = float(diff.std(ddof=1)) / math.sqrt(n)
    if not relative:
        return mean, mean - t * se, mean + t * se
    scale = float(base.mean())
    if scale == 0:

        def infinite(x: float) -> float:
            return 0.0 if x == 0 else math.copysign(math.inf, x)

        return infinite(mean), infinite(mean - t * se), infinite(mean + t * se)
    ratio = mean / scale
    residual = diff - ratio * base
    se = float(residual.std(ddof=1)) / (math.sqrt(n) * abs(scale))
    return ratio, ratio - t * se, ratio + t * se


def _mean(values: np.ndarray) -> float:
    """Mean of the defined values; NaN (without a warning) if there are none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else math.nan


def _replicated(variant: str, limit: Limit, base: np.ndarray, new: np.ndarray) -> Row:
    info = METRICS[limit.metric]
    if np.isnan(base).any() or np.isnan(new).any():
        # Undefined in some replication: fall back to the means' single values.
        row = _single(variant, limit, _mean(base), _mean(new))
        return replace(row, replications=len(base))
    change, low, high = paired_interval(base, new, limit.relative)
    worst = min(_worse(info, low), _worse(info, high))  # the interval's best case
    if _past(worst, limit):
        verdict: Verdict = "regression"
    elif _past(_worse(info, change), limit):
        verdict = "noise"
    else:
        verdict = "ok"
    return Row(
        variant,
        limit.metric,
        limit,
        float(base.mean()),
        float(new.mean()),
        change,
        low,
        high,
        verdict,
        len(base),
    )


def compare(run: RunSummary, baseline: RunSummary, limits: dict[str, Limit]) -> Comparison:
    """Hold ``run`` against ``baseline`` for every shared variant and limit.

    Raises :class:`CheckError` for bad input: another scenario (different
    name, or no variant in common), a metric missing on either side, fewer
    than two replications to pair. A changed model (scenario hash) is only a
    note: a slower server pool must fail as a regression, not as bad input.
    """
    if run.name != baseline.name:
        raise CheckError(
            f"the baseline is of scenario {baseline.name!r}, the run of {run.name!r}: "
            "record a baseline of this scenario with `lbsim baseline`"
        )
    common = [v for v in baseline.variants if v in set(run.variants)]
    if not common:
        raise CheckError(
            f"no variant in common: baseline has {', '.join(baseline.variants)}; "
            f"the run has {', '.join(run.variants)}"
        )
    notes: list[str] = []
    missing = [v for v in baseline.variants if v not in common]
    if missing:
        notes.append(f"not checked, missing from the run: {', '.join(missing)}")
    extra = [v for v in run.variants if v not in common]
    if extra:
        notes.append(f"not checked, not in the baseline: {', '.join(extra)}")
    for summary, label in ((baseline, "baseline"), (run, "run")):
        absent = [m for m in limits if m not in summary.values.columns]
        if absent:
            redo = "re-record it with `lbsim baseline`" if label == "baseline" else "re-run it"
            raise CheckError(
                f"metric {', '.join(absent)} missing from the {label} (made by an older "
                f"lbsim?): {redo}, or choose other metrics with --metric"
            )
    if run.scenario_hash != baseline.scenario_hash:
        notes.append(
            f"model changed since the baseline (scenario hash {baseline.scenario_hash[:12]} -> "
            f"{run.scenario_hash[:12]})"
        )
    if run.lbsim_version != baseline.lbsim_version:
        notes.append(
            f"baseline recorded with lbsim {baseline.lbsim_version}, run with {run.lbsim_version}"
        )

    pairs = _pairing(run, baseline, notes)
    rows: list[Row] = []
    if pairs is None:
        for variant in common:
            for name, limit in limits.items():
                base = float(baseline.values.at[variant, name])
                new = float(run.values.at[variant, name])
                rows.append(_single(variant, limit, base, new))
        return Comparison(run.name, rows, notes)

    count, same_seeds = pairs
    assert run.replications is not None and baseline.replications is not None
    for summary, label in ((baseline, "baseline"), (run, "run")):
        assert summary.replications is not None
        absent = [m for m in limits if m not in summary.replications.columns]
        if absent:
            raise CheckError(f"metric {', '.join(absent)} missing from the {label}'s replications")
    for variant in common:
        base_reps = _series(baseline.replications, variant, count)
        run_reps = _series(run.replications, variant, count)
        if base_reps is None or run_reps is None:
            raise CheckError(f"variant {variant}: fewer than {count} replications on one side")
        for name, limit in limits.items():
            rows.append(
                _replicated(
                    variant,
                    limit,
                    base_reps[name].to_numpy(float),
                    run_reps[name].to_numpy(float),
                )
            )
    return Comparison(run.name, rows, notes, count, same_seeds)


def _series(table: pd.DataFrame, variant: str, count: int) -> pd.DataFrame | None:
    rows = table[table["variant"] == variant].sort_values("replication").head(count)
    return rows if len(rows) == count else None


def _pairing(run: RunSummary, baseline: RunSummary, notes: list[str]) -> tuple[int, bool] | None:
    """How many replications to pair and whether they share seeds; ``None``
    for a single-value comparison (with a note saying why, if it matters)."""
    run_seeds, base_seeds = run.replication_seeds, baseline.replication_seeds
    if not run_seeds and not base_seeds:
        if run.seed != baseline.seed:
            notes.append(
                f"run seed {run.seed}, baseline seed {baseline.seed}, no replications: "
                "single values differ by seed noise alone; use --replications"
            )
        return None
    if not run_seeds or not base_seeds:
        side = "baseline" if base_seeds else "run"
        other = "run" if base_seeds else "baseline"
        notes.append(
            f"warning: only the {side} has replications: comparing single runs, where seed "
            f"noise can fail a tight limit; give the {other} --replications "
            f"{len(base_seeds or run_seeds)}"
        )
        return None
    count = min(len(run_seeds), len(base_seeds))
    if count < 2:
        raise CheckError("a confidence interval needs at least 2 replications on both sides")
    if len(run_seeds) != len(base_seeds):
        notes.append(
            f"the run has {len(run_seeds)} replications, the baseline {len(base_seeds)}: "
            f"pairing the first {count}"
        )
    same = run_seeds[:count] == base_seeds[:count]
    if same:
        notes.append(
            f"{count} replications paired on the same seeds (common random numbers); "
            f"fail only if the whole {CONFIDENCE:.0%} interval is past the limit"
        )
    elif set(run_seeds[:count]) & set(base_seeds[:count]):
        raise CheckError(
            "the run's and the baseline's replication seeds overlap but are not in the same "
            "order: replications.csv was edited or comes from another run"
        )
    else:
        notes.append(
            f"{count} replications, seeds differ from the baseline's (scenario seed "
            f"{run.seed} vs {baseline.seed}): independent pairs, wider interval; "
            f"fail only if the whole {CONFIDENCE:.0%} interval is past the limit"
        )
    return count, same
