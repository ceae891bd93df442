"""Comparing two saved runs: what moved, by how much, for better or worse.

``lbsim diff A B`` reads the summaries of two run folders (the output of
``lbsim run``) and, for every variant they share and every metric, gives the
change from A to B, absolute and relative, with its direction (a higher
latency is worse, a higher throughput better; see :mod:`lbsim.analysis.metrics`).
The tidy table is :func:`compare_runs`; :mod:`lbsim.report.diff_plot` shows
it in the terminal and as small multiples.

Unlike ``lbsim check`` nothing passes or fails here: a diff is for people.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from lbsim.analysis.metrics import CHECKABLE, DIFF_METRICS
from lbsim.gate.baseline import CheckError, RunSummary, read_run
from lbsim.io import atomic_path

__all__ = [
    "KEY_METRICS",
    "compare_runs",
    "key_metrics",
    "unmatched",
    "write_csv",
]


#: What ``lbsim diff`` shows unless asked for other metrics.
KEY_METRICS = DIFF_METRICS

COLUMNS = ["variant", "metric", "a", "b", "absolute", "relative", "moved"]
#: The header of :func:`write_csv`'s file (so ``--csv`` replaces only such files).
CSV_SIGNATURE = ",".join(COLUMNS).encode()


def _moved(metric: str, a: float, b: float) -> str:
    """``same``, ``better``, ``worse`` or ``changed`` (no direction known)."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return "same"
    info = CHECKABLE.get(metric)
    if info is None or math.isnan(a) or math.isnan(b):
        return "changed"
    higher = b > a
    return "worse" if higher == (info.better == "lower") else "better"


def _relative(a: float, b: float) -> float:
    if a == b:
        return 0.0
    if a == 0:
        return math.copysign(math.inf, b)
    return (b - a) / abs(a)


def compare_runs(
    a: RunSummary | Path, b: RunSummary | Path, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Change from run ``a`` to run ``b``, a row per shared variant and metric.

    Columns: ``variant``, ``metric``, ``a``, ``b``, ``absolute`` (b - a, in
    the metric's unit), ``relative`` ((b - a) / |a|; +-inf from zero),
    ``moved`` (``same``, ``better``, ``worse``, or ``changed`` for metrics
    without a direction). ``metrics`` defaults to every metric both have.
    Raises :class:`~lbsim.gate.baseline.CheckError` when nothing can be compared.
    """
    run_a = a if isinstance(a, RunSummary) else read_run(a)
    run_b = b if isinstance(b, RunSummary) else read_run(b)
    variants = [v for v in run_a.variants if v in set(run_b.variants)]
    if not variants:
        raise CheckError(
            f"no variant in common: {', '.join(run_a.variants)} vs {', '.join(run_b.variants)}"
        )
    shared = [m for m in run_a.values.columns if m in set(run_b.values.columns)]
    if metrics is None:
        chosen = shared
    else:
        absent = [m for m in metrics if m not in shared]
        if absent:
            raise CheckError(
                f"metric {', '.join(absent)} not in both runs; they share {', '.join(shared)}"
            )
        chosen = list(dict.fromkeys(metrics))
    rows = []
    for variant in variants:
        for metric in chosen:
            va = float(run_a.values.at[variant, metric])
            vb = float(run_b.values.at[variant, metric])
            rows.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "a": va,
                    "b": vb,
                    "absolute": vb - va,
                    "relative": _relative(va, vb),
                    "moved": _moved(metric, va, vb),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def key_metrics(a: RunSummary, b: RunSummary) -> list[str]:
    """The :data:`KEY_METRICS` both runs have: what ``lbsim diff`` shows by default."""
    return [m for m in KEY_METRICS if m in a.values.columns and m in b.values.columns]


def unmatched(a: RunSummary, b: RunSummary) -> list[str]:
    """Notes on what :func:`compare_runs` leaves out or should warn about."""
    notes = []
    if a.name != b.name:
        notes.append(f"different scenarios: {a.name!r} vs {b.name!r}")
    only_a = [v for v in a.variants if v not in set(b.variants)]
    only_b = [v for v in b.variants if v not in set(a.variants)]
    if only_a:
        notes.append(f"only in A: {', '.join(only_a)}")
    if only_b:
        notes.append(f"only in B: {', '.join(only_b)}")
    if a.scenario_hash == b.scenario_hash and a.seed != b.seed:
        notes.append(f"same model, seeds {a.seed} vs {b.seed}: the changes are seed noise")
    return notes


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Save the change table as CSV, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path
