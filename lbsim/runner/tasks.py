"""One run of a sweep: the picklable :class:`Task`, its :class:`Outcome`, its
cache key and :func:`run_task`, which a worker calls."""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from lbsim._version import __version__
from lbsim.engine.workload import draw_workload
from lbsim.runner.histogram import LatencyHistogram
from lbsim.runner.keep import Records, simulate
from lbsim.scenario import (
    Variant,
    load,
)


@dataclass(frozen=True)
class Task:
    """One run: small and picklable, so it can travel to any worker."""

    key: str
    point: int
    replication: int
    variant: str
    params: dict[str, Any]  # every varied path -> its value (grid and compare)
    seed: int
    scenario: dict[str, Any]  # resolved scenario of the variant, with ``seed``
    keep_requests: bool = False


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: metrics and a histogram, or the error."""

    key: str
    metrics: dict[str, float] | None = None
    histogram: LatencyHistogram | None = None
    requests: pd.DataFrame | None = None
    error: str | None = None
    traceback: str | None = None
    wall_time: float = 0.0


def run_key(scenario: Mapping[str, Any], seed: int) -> str:
    """SHA-256 of the canonical JSON of (resolved scenario, seed, lbsim version)."""
    text = json.dumps(
        {"scenario": scenario, "seed": seed, "lbsim_version": __version__},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def run_task(task: Task) -> Outcome:
    """Simulate one task (top-level, so ``spawn`` pools and Dask can call it)."""
    started = time.perf_counter()
    try:
        scenario = load(data=task.scenario).base
        variant = Variant(task.variant, task.params, scenario)
        # Sweeps keep no rows unless asked: summaries and histograms (records: none).
        mode: Records = "all" if task.keep_requests else "none"
        _, row, histogram, rows, _ = simulate(variant, mode, partial(draw_workload, scenario))
        skip = {"variant", *task.params}
        metrics = {
            k: float(v)
            for k, v in row.items()
            if k not in skip and isinstance(v, int | float | np.integer | np.floating)
        }
        requests = rows if task.keep_requests else None
        return Outcome(
            task.key, metrics, histogram, requests, wall_time=time.perf_counter() - started
        )
    except Exception as error:  # reported with the task's parameters, never fatal
        return Outcome(
            task.key,
            error=describe(error),
            traceback=traceback.format_exc(),
            wall_time=time.perf_counter() - started,
        )


def expected_requests(task: Task) -> float:
    """Rough cost of a task for scheduling: its duration times its peak rate."""
    arrivals = task.scenario["clients"]["arrivals"]
    rate = arrivals.get("rate") or max(
        (p["rate"] for p in arrivals.get("profile") or ()), default=0
    )
    return float(task.scenario["duration"]) * float(rate)


def describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
