"""Baselines and the CI regression gate: is this run worse than the recorded one?

A *baseline* is the summary of a run frozen into a small JSON file (usually
committed as ``baselines/<scenario>.json``): every summary metric per variant,
plus, when the run had ``--replications N``, the same metrics for each
replication and its seed. It also records what the numbers came from: the
scenario name, a hash of the resolved scenario (seed left out), the seed and
the lbsim version.

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

import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from rich import box
from rich.table import Table
from rich.text import Text
from scipy import stats

from lbsim._version import __version__
from lbsim.analysis.metrics import CHECKABLE, Metric, Quantity
from lbsim.io import atomic_path

BASELINE_FORMAT = 1
CONFIDENCE = 0.95
DEFAULT_METRIC = "latency_p99"
DEFAULT_LIMIT = "5%"

Verdict = Literal["ok", "noise", "regression"]


class CheckError(ValueError):
    """Bad input to a check (exit status 2): unknown metric, malformed limit,
    a baseline of another scenario, an unreadable run directory..."""


#: The metrics a gate can check: those of the catalogue with a direction.
#: Utilisation and request counts have none (they follow the workload).
METRICS: dict[str, Metric] = CHECKABLE

# Absolute limit units per kind of metric: factor to the metric's own unit.
_UNITS: dict[Quantity, dict[str, float]] = {
    "seconds": {"us": 1e-6, "ms": 1e-3, "s": 1.0},
    "fraction": {"pp": 0.01},
    "rate": {"": 1.0, "/s": 1.0},
    "number": {"": 1.0},
}
_LIMIT_RE = re.compile(r"^\s*([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*(%|pp|us|ms|s|/s)?\s*$")


def metric(name: str) -> Metric:
    """The checkable metric ``name``; :class:`CheckError` listing them if unknown."""
    if name not in METRICS:
        raise CheckError(f"unknown metric {name!r}: known metrics are {', '.join(sorted(METRICS))}")
    return METRICS[name]


# --------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limit:
    """How much worse ``metric`` may get: ``amount`` as a fraction of the
    baseline (``relative``) or in the metric's own unit (``absolute``)."""

    metric: str
    amount: float
    relative: bool
    text: str

    def __str__(self) -> str:
        return self.text


def parse_limit(metric_name: str, text: str) -> Limit:
    """``5%`` (relative), ``+0.1pp`` (rates), ``+20ms`` (latencies), ``+2`` (plain numbers)."""
    info = metric(metric_name)
    match = _LIMIT_RE.match(text)
    if not match:
        raise CheckError(
            f"malformed limit {text!r} for {metric_name}: expected e.g. 5%, +0.1pp or +20ms"
        )
    sign, number, unit = match.groups()
    if sign == "-":
        raise CheckError(
            f"limit {text!r} for {metric_name}: a limit is how much worse the metric may get; "
            "it cannot be negative"
        )
    value = float(number)
    if unit == "%":
        return Limit(metric_name, value / 100, True, text.strip())
    units = _UNITS[info.quantity]
    if (unit or "") not in units:
        allowed = ", ".join(f"+1{u}" if u else "+1" for u in units)
        raise CheckError(
            f"limit {text!r} for {metric_name}: use a relative limit (5%) or an absolute one "
            f"in its unit ({allowed})"
        )
    return Limit(metric_name, value * units[unit or ""], False, text.strip())


def parse_limits(specs: Iterable[str], metrics: Sequence[str] = ()) -> dict[str, Limit]:
    """Limits by metric from ``--metric`` names and ``--max-regression`` specs.

    A spec is ``METRIC=LIMIT`` or a bare ``LIMIT`` (the default for every metric
    without its own); specs may also be given comma- or space-separated in one
    string. Metrics named in specs are checked too; with no metric named at
    all, :data:`DEFAULT_METRIC` is. The default limit is :data:`DEFAULT_LIMIT`.
    """
    named: dict[str, str] = {}
    default: str | None = None
    for spec in (part for item in specs for part in re.split(r"[,\s]+", item) if part):
        if "=" in spec:
            name, _, text = spec.partition("=")
            name = name.strip()
            metric(name)
            if name in named and named[name] != text:
                raise CheckError(f"two limits for {name}: {named[name]} and {text}")
            named[name] = text
        elif default is not None and default != spec:
            raise CheckError(f"two default limits: {default} and {spec}; name the metric (m=5%)")
        else:
            default = spec
    chosen = list(dict.fromkeys([*metrics, *named])) or [DEFAULT_METRIC]
    return {name: parse_limit(name, named.get(name) or default or DEFAULT_LIMIT) for name in chosen}


# ------------------------------------------------------------ runs, baselines


def scenario_hash(scenario: dict[str, Any]) -> str:
    """SHA-256 of the resolved scenario as canonical JSON, without its seed:
    the same model under another seed has the same hash."""
    model = {key: value for key, value in scenario.items() if key != "seed"}
    text = json.dumps(model, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class RunSummary:
    """The numbers of a run (or a baseline): per-variant metrics and, if the
    run had replications, one row per replication and variant."""

    name: str
    seed: int | None
    lbsim_version: str
    scenario_hash: str
    values: pd.DataFrame  # index: variant; columns: metrics
    replications: pd.DataFrame | None = None  # variant, replication, seed, metrics
    source: str = ""

    @property
    def variants(self) -> list[str]:
        return [str(v) for v in self.values.index]

    @property
    def replication_seeds(self) -> list[int]:
        if self.replications is None:
            return []
        ordered = self.replications.sort_values("replication")
        return [int(s) for s in ordered.drop_duplicates("replication")["seed"]]


def _numeric(frame: pd.DataFrame, skip: set[str]) -> list[str]:
    return [
        c
        for c in frame.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]


def read_run(run_dir: Path) -> RunSummary:
    """Read ``summary.csv``, ``run.json`` and, if present, ``replications.csv``."""
    run_dir = Path(run_dir)
    missing = [n for n in ("summary.csv", "run.json") if not (run_dir / n).is_file()]
    if missing:
        raise CheckError(
            f"{run_dir}: not a run directory (missing {', '.join(missing)}); "
            "expected the output folder of `lbsim run`"
        )
    try:
        meta = json.loads((run_dir / "run.json").read_text())
        summary = pd.read_csv(run_dir / "summary.csv")
    except (OSError, ValueError) as error:
        raise CheckError(f"{run_dir}: unreadable run: {error}") from error
    if "variant" not in summary.columns:
        raise CheckError(f"{run_dir / 'summary.csv'}: no 'variant' column")
    params = {key for v in meta.get("variants", []) for key in v.get("params", {})}
    skip = {"variant", "replication", "seed", *params}
    summary["variant"] = summary["variant"].astype(str)
    values = summary.set_index("variant")[_numeric(summary, skip)].astype(float)
    replications = None
    path = run_dir / "replications.csv"
    if path.is_file():
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError) as error:
            raise CheckError(f"{path}: unreadable: {error}") from error
        if not {"variant", "replication", "seed"} <= set(table.columns):
            raise CheckError(f"{path}: expected columns variant, replication, seed and metrics")
        table["variant"] = table["variant"].astype(str)
        keep = ["variant", "replication", "seed", *_numeric(table, skip)]
        replications = table[keep]
    return RunSummary(
        name=str(meta.get("name", "")),
        seed=meta.get("seed"),
        lbsim_version=str(meta.get("lbsim_version", "")),
        scenario_hash=scenario_hash(meta.get("scenario", {})),
        values=values,
        replications=replications,
        source=str(meta.get("source", "")),
    )


def _json_number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def baseline_data(run: RunSummary) -> dict[str, Any]:
    """The JSON document of a baseline (see ``docs/ci.md`` for the format)."""
    data: dict[str, Any] = {
        "lbsim_baseline": BASELINE_FORMAT,
        "name": run.name,
        "scenario_hash": run.scenario_hash,
        "seed": run.seed,
        "lbsim_version": run.lbsim_version,
        "source": run.source,
        "variants": {
            str(variant): {m: _json_number(v) for m, v in row.items()}
            for variant, row in run.values.iterrows()
        },
        "replications": None,
    }
    if run.replications is not None:
        table = run.replications.sort_values(["variant", "replication"])
        metrics = [c for c in table.columns if c not in ("variant", "replication", "seed")]
        data["replications"] = {
            "seeds": run.replication_seeds,
            "variants": {
                str(variant): {m: [_json_number(v) for v in group[m]] for m in metrics}
                for variant, group in table.groupby("variant", sort=False)
            },
        }
    return data


def write_baseline(run: RunSummary, path: Path) -> Path:
    """Record ``run`` as a baseline file at ``path`` (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(baseline_data(run), indent=2) + "\n")
    return path


def _floats(values: Iterable[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def read_baseline(path: Path) -> RunSummary:
    """Read a baseline file written by :func:`write_baseline`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise CheckError(f"{path}: cannot read baseline: {error.strerror or error}") from error
    except ValueError as error:
        raise CheckError(f"{path}: not a baseline (invalid JSON: {error})") from error
    if not isinstance(data, dict) or data.get("lbsim_baseline") != BASELINE_FORMAT:
        raise CheckError(
            f"{path}: not an lbsim baseline (format {BASELINE_FORMAT}); "
            "record one with `lbsim baseline RUN_DIR -o FILE`"
        )
    try:
        values = pd.DataFrame(
            {v: dict(zip(m, _floats(m.values()), strict=True)) for v, m in data["variants"].items()}
        ).T
        values.index.name = "variant"
        replications = None
        if data.get("replications"):
            seeds = [int(s) for s in data["replications"]["seeds"]]
            rows = []
            for variant, metrics in data["replications"]["variants"].items():
                frame = pd.DataFrame({m: _floats(v) for m, v in metrics.items()})
                frame.insert(0, "seed", seeds[: len(frame)])
                frame.insert(0, "replication", range(len(frame)))
                frame.insert(0, "variant", variant)
                rows.append(frame)
            replications = pd.concat(rows, ignore_index=True)
        return RunSummary(
            name=str(data["name"]),
            seed=data.get("seed"),
            lbsim_version=str(data.get("lbsim_version", "")),
            scenario_hash=str(data.get("scenario_hash", "")),
            values=values.astype(float),
            replications=replications,
            source=str(data.get("source", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckError(f"{path}: malformed baseline ({error!r})") from error


# ----------------------------------------------------------------- comparing


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
            raise CheckError(f"metric {', '.join(absent)} missing from the {label}")
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


# ----------------------------------------------------------------- reporting


def _scaled(info: Metric, value: float) -> tuple[float, str]:
    """A value of the metric in display units (ms, %, req/s...)."""
    if info.quantity == "seconds":
        return value * 1e3, "ms"
    if info.quantity == "fraction":
        return value * 100, "%"
    if info.quantity == "rate":
        return value, "/s"
    return value, ""


def _number(value: float, sign: bool = False) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return ("+∞" if sign else "∞") if value > 0 else "-∞"
    magnitude = abs(value)
    if magnitude == 0:
        text = "0"
    elif magnitude >= 100:
        text = f"{magnitude:,.0f}"
    else:
        decimals = max(0, 2 - math.floor(math.log10(magnitude)))
        text = f"{magnitude:.{decimals}f}"
    if value < 0:
        return "-" + text
    return ("+" if sign and value > 0 else "") + text


def format_value(metric_name: str, value: float) -> str:
    """``123ms``, ``0.05%``, ``680/s``, ``2.04``."""
    scaled, unit = _scaled(METRICS[metric_name], value)
    return _number(scaled) + ("" if math.isnan(value) else unit)


def format_change(row: Row, value: float | None = None) -> str:
    """A change in the limit's terms: ``+3.2%`` (relative), ``+12ms``, ``+0.1pp``."""
    value = row.change if value is None else value
    if math.isnan(value):
        return "-"
    if row.limit.relative:
        return _number(value * 100, sign=True) + "%"
    scaled, unit = _scaled(METRICS[row.metric], value)
    return _number(scaled, sign=True) + ("pp" if unit == "%" else unit)


def format_interval(row: Row) -> str:
    if math.isnan(row.low):
        return "-"
    return f"[{format_change(row, row.low)}, {format_change(row, row.high)}]"


def format_absolute(row: Row) -> str:
    """The absolute change in display units: ``+12ms``, ``+0.05pp``, ``-3/s``."""
    scaled, unit = _scaled(METRICS[row.metric], row.absolute)
    return _number(scaled, sign=True) + ("pp" if unit == "%" else unit)


def format_relative(row: Row) -> str:
    return _number(row.relative * 100, sign=True) + "%"


_VERDICT_TEXT = {"ok": "ok", "noise": "ok (noise)", "regression": "REGRESSION"}


def verdict_line(comparison: Comparison) -> str:
    checks = len(comparison.rows)
    failed = comparison.regressions
    if not failed:
        return f"passed: {checks} check(s) within their limits"
    moved = ", ".join(f"{r.variant} {r.metric} {format_change(r)}" for r in failed)
    return f"FAILED: {len(failed)} of {checks} check(s) past their limit: {moved}"


def comparison_table(comparison: Comparison) -> Table:
    """The terminal table: one row per variant and metric, regressions in bold red."""
    interval = bool(comparison.replications)
    caption = (
        f"means of {comparison.replications} replications; interval: {CONFIDENCE:.0%} t on "
        "the paired changes"
        if interval
        else "single runs: no interval (record and run with --replications N for one)"
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, caption=caption,
                  caption_justify="left")  # fmt: skip
    table.add_column("variant", no_wrap=True)
    table.add_column("metric", no_wrap=True)
    for heading in ("baseline", "run", "change", "relative"):
        table.add_column(heading, justify="right", no_wrap=True)
    if interval:
        table.add_column(f"{CONFIDENCE:.0%} interval", justify="right", no_wrap=True)
    table.add_column("limit", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for row in comparison.rows:
        style = {"regression": "bold red", "noise": "yellow", "ok": ""}[row.verdict]
        cells: list[str | Text] = [
            row.variant,
            row.metric,
            format_value(row.metric, row.baseline),
            format_value(row.metric, row.run),
            format_absolute(row),
            format_relative(row),
        ]
        if interval:
            cells.append(format_interval(row))
        cells += [row.limit.text, Text(_VERDICT_TEXT[row.verdict], style=style)]
        table.add_row(*cells)
    return table


def markdown(comparison: Comparison, baseline_path: str = "") -> str:
    """A Markdown summary, e.g. for ``$GITHUB_STEP_SUMMARY``."""
    icon = "✅" if comparison.passed else "❌"
    lines = [f"### {icon} lbsim check: {comparison.name}", "", verdict_line(comparison), ""]
    if baseline_path:
        lines += [f"Baseline: `{baseline_path}`", ""]
    lines += [f"- {note}" for note in comparison.notes]
    if comparison.notes:
        lines.append("")
    interval = bool(comparison.replications)
    header = ["variant", "metric", "baseline", "run", "change", "relative"]
    header += [f"{CONFIDENCE:.0%} interval"] if interval else []
    header += ["limit", "verdict"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in comparison.rows:
        verdict = _VERDICT_TEXT[row.verdict]
        cells = [
            row.variant,
            f"`{row.metric}`",
            format_value(row.metric, row.baseline),
            format_value(row.metric, row.run),
            format_absolute(row),
            format_relative(row),
            *([format_interval(row)] if interval else []),
            row.limit.text,
            f"**{verdict}**" if row.verdict == "regression" else verdict,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def junit_xml(comparison: Comparison, baseline_path: str = "") -> str:
    """JUnit XML: a test case per variant and metric, a failure per regression."""
    suite = ET.Element(
        "testsuite",
        name=f"lbsim check {comparison.name}",
        tests=str(len(comparison.rows)),
        failures=str(len(comparison.regressions)),
        errors="0",
        skipped="0",
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (("baseline", baseline_path), ("lbsim_version", __version__)):
        ET.SubElement(properties, "property", name=key, value=value)
    for index, note in enumerate(comparison.notes):
        ET.SubElement(properties, "property", name=f"note{index + 1}", value=note)
    for row in comparison.rows:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"lbsim.{comparison.name}.{row.variant}",
            name=row.metric,
            time="0",
        )
        detail = (
            f"{row.metric} of {row.variant}: baseline {format_value(row.metric, row.baseline)}, "
            f"run {format_value(row.metric, row.run)}, change {format_change(row)}"
            + (f" {CONFIDENCE:.0%} interval {format_interval(row)}" if row.replications else "")
            + f", limit {row.limit.text}"
        )
        if row.verdict == "regression":
            failure = ET.SubElement(case, "failure", message=detail, type="regression")
            failure.text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    root = ET.Element("testsuites", name="lbsim check")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (creating its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return path
