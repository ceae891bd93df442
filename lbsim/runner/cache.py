"""The run cache: one ``<out>/runs/<key>.json`` (and, when kept, the
per-request parquet) per finished run, each written atomically.

An entry is trusted only if it checks out (:func:`read_cached`): it parses
as JSON of the expected shape, its ``checksum`` (SHA-256 of the rest of the
entry as canonical JSON) matches, it is the entry of this very run (key,
seed, variant), every metric is a number within its range (no negative
latency, no rate above 1), the histogram's slots and counts are valid, and a
kept parquet has the recorded checksum.
Anything else raises :class:`BadEntryError`, and the sweep recomputes the run with
a warning: a truncated, emptied or edited entry never flows into the tables.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path
from typing import Any

from lbsim._version import __version__
from lbsim.analysis.metrics import METRICS
from lbsim.io import OutputError, atomic_path, file_digest, parse_json, read_bytes
from lbsim.runner.histogram import N_BINS, LatencyHistogram
from lbsim.runner.tasks import Outcome, Task


class BadEntryError(ValueError):
    """A cache entry that is present but cannot be trusted (the message says why)."""


def cache_path(runs_dir: Path, key: str) -> Path:
    """Where the record of run ``key`` is kept."""
    return runs_dir / f"{key}.json"


def requests_path(runs_dir: Path, key: str) -> Path:
    """Where the per-request records of run ``key`` are kept."""
    return runs_dir / f"{key}.requests.parquet"


def _checksum(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_metric(name: str, value: Any) -> float:
    if not _number(value):
        raise BadEntryError(f"metrics.{name}: {value!r:.40} is not a number")
    number = float(value)
    info = METRICS.get(name)
    if info is None or math.isnan(number):
        return number
    if number < 0:
        raise BadEntryError(f"metrics.{name}: {number} is negative")
    if info.quantity == "fraction" and number > 1:
        raise BadEntryError(f"metrics.{name}: {number} is above 1 (a fraction)")
    return number


def _histogram(hist: Any) -> LatencyHistogram:
    if not isinstance(hist, dict):
        raise BadEntryError("histogram: not an object")
    slots, counts = hist.get("slots"), hist.get("counts")
    if not isinstance(slots, list) or not isinstance(counts, list) or len(slots) != len(counts):
        raise BadEntryError("histogram: slots and counts must be lists of one length")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in slots + counts):
        raise BadEntryError("histogram: slots and counts must be integers")
    if any(b <= a for a, b in itertools.pairwise(slots)):
        raise BadEntryError("histogram: slots not in increasing order")
    if slots and (slots[0] < 0 or slots[-1] >= N_BINS + 2):
        raise BadEntryError(f"histogram: slot out of range 0..{N_BINS + 1}")
    if any(c <= 0 for c in counts):
        raise BadEntryError("histogram: counts must be positive")
    return LatencyHistogram.from_sparse(slots, counts)


def read_cached(runs_dir: Path, task: Task) -> Outcome | None:
    """The finished run ``task`` from the cache; None if absent or incomplete
    (no kept requests when they are wanted); :class:`BadEntryError` if damaged;
    :class:`~lbsim.io.OutputError` if the entry is a folder or a device."""
    path = cache_path(runs_dir, task.key)
    if not path.exists():
        return None
    if not path.is_file():  # it could not be replaced by the rerun either
        raise OutputError(f"{path}: not a regular file; remove it to let the sweep rerun it")
    try:
        record = parse_json(read_bytes(path), path.name)
    except OutputError as error:
        raise BadEntryError(str(error).removeprefix(f"{path.name}: ")) from error
    if not isinstance(record, dict):
        raise BadEntryError("not a JSON object (emptied or overwritten?)")
    body = {k: v for k, v in record.items() if k != "checksum"}
    if record.get("checksum") != _checksum(body):
        raise BadEntryError("checksum differs from the content (edited or truncated)")
    for field, expected in (("key", task.key), ("seed", task.seed), ("variant", task.variant)):
        if record.get(field) != expected:
            raise BadEntryError(f"{field}: {record.get(field)!r:.40}, expected {expected!r:.40}")
    metrics = record.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise BadEntryError("metrics: missing")
    checked = {str(k): _check_metric(str(k), v) for k, v in metrics.items()}
    histogram = _histogram(record.get("histogram"))
    wall_time: Any = record.get("wall_time")
    if not _number(wall_time) or not 0 <= wall_time < math.inf:
        raise BadEntryError(f"wall_time: {wall_time!r:.40} is not a duration")
    if task.keep_requests:
        parquet = requests_path(runs_dir, task.key)
        if not parquet.is_file():
            return None
        if file_digest(parquet) != record.get("requests_checksum"):
            raise BadEntryError(f"{parquet.name}: checksum differs from the entry's")
    return Outcome(task.key, checked, histogram, wall_time=float(wall_time))


def write_cached(runs_dir: Path, task: Task, outcome: Outcome) -> None:
    """Record a finished run (its parquet first, then the entry naming its checksum)."""
    assert outcome.metrics is not None and outcome.histogram is not None
    requests_checksum = None
    if outcome.requests is not None:
        with atomic_path(requests_path(runs_dir, task.key)) as tmp:
            outcome.requests.to_parquet(tmp, index=False)
        requests_checksum = file_digest(requests_path(runs_dir, task.key))
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
        "requests_checksum": requests_checksum,
    }
    body = json.loads(json.dumps(record, default=str))  # what a reader will parse
    body["checksum"] = _checksum(body)
    with atomic_path(cache_path(runs_dir, task.key)) as tmp:
        Path(tmp).write_text(json.dumps(body, indent=1))
