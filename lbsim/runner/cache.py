"""The run cache: one ``<out>/runs/<key>.json`` (and, when kept, the
per-request parquet) per finished run, each written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from lbsim._version import __version__
from lbsim.io import atomic_path
from lbsim.runner.histogram import LatencyHistogram
from lbsim.runner.tasks import Outcome, Task


def cache_path(runs_dir: Path, key: str) -> Path:
    """Where the record of run ``key`` is kept."""
    return runs_dir / f"{key}.json"


def requests_path(runs_dir: Path, key: str) -> Path:
    """Where the per-request records of run ``key`` are kept."""
    return runs_dir / f"{key}.requests.parquet"


def read_cached(runs_dir: Path, task: Task) -> Outcome | None:
    """A finished run from the cache, or None if absent, unreadable or incomplete."""
    path = cache_path(runs_dir, task.key)
    try:
        record = json.loads(path.read_text())
        if record.get("key") != task.key or not isinstance(record.get("metrics"), dict):
            return None
        if task.keep_requests and not requests_path(runs_dir, task.key).is_file():
            return None
        metrics = {str(k): float(v) for k, v in record["metrics"].items()}
        hist = record["histogram"]
        histogram = LatencyHistogram.from_sparse(hist["slots"], hist["counts"])
        return Outcome(task.key, metrics, histogram, wall_time=float(record["wall_time"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cached(runs_dir: Path, task: Task, outcome: Outcome) -> None:
    assert outcome.metrics is not None and outcome.histogram is not None
    if outcome.requests is not None:
        with atomic_path(requests_path(runs_dir, task.key)) as tmp:
            outcome.requests.to_parquet(tmp, index=False)
    slots, counts = outcome.histogram.sparse()
    record = {
        "key": task.key,
        "lbsim_version": __version__,
        "seed": task.seed,
        "variant": task.variant,
        "params": task.params,
        "metrics": outcome.metrics,
        "histogram": {"edges": "10**(k/40), k=-240..200", "slots": slots, "counts": counts},
        "wall_time": outcome.wall_time,
        "scenario": task.scenario,
    }
    with atomic_path(cache_path(runs_dir, task.key)) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1, default=str))
