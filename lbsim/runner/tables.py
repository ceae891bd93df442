"""The tidy tables of a sweep, built in plan order whatever the completion order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lbsim.runner.histogram import EDGES
from lbsim.runner.intervals import CiMethod, confidence_intervals
from lbsim.runner.plan import Plan
from lbsim.runner.tasks import Outcome


def _fix_types(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Parameter columns mixing numbers and text become text (parquet needs one type)."""
    for column in columns:
        series = frame[column]
        if series.dtype == object:
            kinds = {type(v) for v in series if v is not None}
            if len(kinds) > 1:
                frame[column] = series.map(lambda v: None if v is None else str(v))
    return frame


def build_tables(
    the_plan: Plan, outcomes: dict[str, Outcome]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(runs, histograms, failures) in table order, whatever the completion order."""
    variant_index = {name: i for i, name in enumerate(the_plan.variant_names)}
    params = the_plan.grid_params + the_plan.compare_params
    columns = [
        "point",
        *the_plan.grid_params,
        "replication",
        "run_seed",
        "variant",
        *the_plan.compare_params,
        "metric",
        "value",
        "run_key",
    ]
    runs: dict[str, list[Any]] = {c: [] for c in columns}
    hist: dict[str, list[Any]] = {
        c: [] for c in ("point", "replication", "variant", "slot", "lo", "hi", "count")
    }
    failures: list[dict[str, Any]] = []
    edges = np.r_[0.0, EDGES, np.inf]
    for task in the_plan.tasks:
        outcome = outcomes.get(task.key)
        cell = the_plan.values[(task.point, variant_index[task.variant])]
        if outcome is None or outcome.metrics is None:
            failures.append(
                {
                    "point": task.point,
                    **{p: cell[p] for p in params},
                    "replication": task.replication,
                    "run_seed": task.seed,
                    "variant": task.variant,
                    "error": outcome.error if outcome else "not run",
                    "traceback": outcome.traceback if outcome else "",
                    "run_key": task.key,
                }
            )
            continue
        for metric, value in outcome.metrics.items():
            runs["point"].append(task.point)
            runs["replication"].append(task.replication)
            runs["run_seed"].append(task.seed)
            runs["variant"].append(task.variant)
            for p in params:
                runs[p].append(cell[p])
            runs["metric"].append(metric)
            runs["value"].append(value)
            runs["run_key"].append(task.key)
        assert outcome.histogram is not None
        slots, counts = outcome.histogram.sparse()
        hist["point"] += [task.point] * len(slots)
        hist["replication"] += [task.replication] * len(slots)
        hist["variant"] += [task.variant] * len(slots)
        hist["slot"] += slots
        hist["lo"] += edges[slots].tolist()
        hist["hi"] += edges[np.asarray(slots, dtype=np.int64) + 1].tolist()
        hist["count"] += counts

    categories = pd.CategoricalDtype(the_plan.variant_names, ordered=True)
    runs_frame = pd.DataFrame(runs)
    runs_frame = _fix_types(runs_frame, params)
    hist_frame = pd.DataFrame(hist)
    for frame in (runs_frame, hist_frame):
        for column in ("point", "replication", "slot", "count"):
            if column in frame:
                frame[column] = frame[column].astype(np.int64)
        frame["variant"] = frame["variant"].astype(categories)
    runs_frame["run_seed"] = runs_frame["run_seed"].astype(np.int64)
    runs_frame["value"] = runs_frame["value"].astype(np.float64)
    failure_columns = [
        "point",
        *the_plan.grid_params,
        "replication",
        "run_seed",
        "variant",
        *the_plan.compare_params,
        "error",
        "traceback",
        "run_key",
    ]
    failure_frame = _fix_types(pd.DataFrame(failures, columns=failure_columns), params)
    return runs_frame, hist_frame, failure_frame


def summary_table(
    the_plan: Plan, runs: pd.DataFrame, confidence: float, method: CiMethod
) -> pd.DataFrame:
    seed = the_plan.loaded.base.seed
    stats = confidence_intervals(runs, ("point", "variant", "metric"), confidence, method, seed)
    variant_index = {name: i for i, name in enumerate(the_plan.variant_names)}
    rows = []
    for point, variant in stats[["point", "variant"]].itertuples(index=False):
        v = variant_index[str(variant)]
        rows.append(
            {
                **the_plan.values[(int(point), v)],
                "offered_load": the_plan.offered_load[(int(point), v)],
            }
        )
    params = the_plan.grid_params + the_plan.compare_params
    extra = pd.DataFrame(rows, columns=[*params, "offered_load"])
    extra = _fix_types(extra, params)
    columns = [
        stats["point"],
        *(extra[p] for p in the_plan.grid_params),
        stats["variant"],
        *(extra[p] for p in the_plan.compare_params),
        extra["offered_load"],
    ]
    front = pd.concat([c.reset_index(drop=True) for c in columns], axis=1)
    rest = stats.drop(columns=["point", "variant"]).reset_index(drop=True)
    summary = pd.concat([front, rest], axis=1)
    summary["variant"] = summary["variant"].astype(
        pd.CategoricalDtype(the_plan.variant_names, ordered=True)
    )
    return summary
