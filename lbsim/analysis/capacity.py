"""Capacity of autoscaled pools over time, read from the event log.

Every autoscaling event (:mod:`lbsim.engine.autoscaling`) carries the pool's
counts after it (``desired``, ``provisioned``, ``in_service``), so capacity
is a step function of time per pool, known exactly at no cost to the run.
The summary's autoscaling metrics come from it: ``instances_peak`` (most
instances provisioned at once, all pools), ``instance_hours`` (provisioned
instance-time over the measurement window, the bill) and ``scale_out_time``
(mean time from a scale-out decision until as many instances are in service
as it asked for; ∞ if one never got there). With autoscaling, the
per-server means count provisioned servers only (hosts preallocated up to
``max`` but not running are not servers): ``utilization_mean`` is busy time
over the provisioned worker-time, ``queue_mean`` queue-time over provisioned
instance-time, and ``load_imbalance`` the busiest server's requests over the
requests per provisioned server (the mean number provisioned over the window).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from lbsim.engine.records import Event, Recorder
from lbsim.scenario import Scenario

COUNTS = ("desired", "provisioned", "in_service")


def _counts(detail: str) -> dict[str, str] | None:
    """The ``key=value`` fields of an autoscaling event's detail (None: not one)."""
    if "in_service=" not in detail:
        return None
    return dict(part.split("=", 1) for part in detail.split() if "=" in part)


def capacity_rows(events: Iterable[Event]) -> list[tuple[float, str, str, int, int, int]]:
    """``(time, pool, kind, desired, provisioned, in_service)`` per autoscaling event."""
    rows = []
    for event in events:
        fields = _counts(event.detail)
        if fields is not None:
            desired, provisioned, in_service = (int(fields[k]) for k in COUNTS)
            rows.append((event.time, fields["pool"], event.kind, desired, provisioned, in_service))
    return rows


def capacity_frame(events: pd.DataFrame) -> pd.DataFrame:
    """Per variant and pool, the counts after each autoscaling event of an
    events table (``Result.events``); empty without autoscaling."""
    columns = ["variant", "time", "pool", "kind", *COUNTS]
    rows = []
    for variant, time, kind, target, detail in events[
        ["variant", "time", "kind", "target", "detail"]
    ].itertuples(index=False):
        for row in capacity_rows([Event(float(time), str(kind), str(target), str(detail))]):
            rows.append((variant, *row))
    return pd.DataFrame(rows, columns=columns)


def _integral(times: Sequence[float], values: Sequence[int], lo: float, hi: float) -> float:
    """∫ of the step function (``values[i]`` from ``times[i]``) over [lo, hi]."""
    total = 0.0
    for i, value in enumerate(values):
        start = max(times[i], lo)
        end = min(times[i + 1] if i + 1 < len(times) else hi, hi)
        if end > start:
            total += value * (end - start)
    return total


def capacity_metrics(
    scenario: Scenario, rec: Recorder, lo: float, hi: float, per_server: np.ndarray
) -> dict[str, float]:
    """The autoscaling metrics and per-server means (module docstring) over
    [lo, hi], ``per_server`` the requests each host served; {} without autoscaling."""
    scaled = {pool.name: pool for pool in scenario.servers if pool.autoscale is not None}
    if not scaled:
        return {}
    rows = capacity_rows(rec.events)
    fixed = [pool for pool in scenario.servers if pool.autoscale is None]
    seconds = sum(pool.count for pool in fixed) * (hi - lo)
    worker_seconds = sum(pool.count * pool.workers for pool in fixed) * (hi - lo)
    peak_times: list[float] = []
    for name, pool in scaled.items():
        mine = [r for r in rows if r[1] == name]
        times, provisioned = [r[0] for r in mine], [r[4] for r in mine]
        area = _integral(times, provisioned, lo, hi)
        seconds += area
        worker_seconds += area * pool.workers
        peak_times += times
    # instances provisioned at once over all pools, at each event time
    peak = 0
    for t in sorted(set(peak_times)):
        now = sum(pool.count for pool in fixed)
        for name in scaled:
            before = [r[4] for r in rows if r[1] == name and r[0] <= t]
            now += before[-1] if before else 0
        peak = max(peak, now)
    waits = []
    for i, (time, name, kind, desired, _, _) in enumerate(rows):
        if kind != "scale_out":
            continue
        # in service as asked for, or else a scale-in changed what was asked
        reached = next((r[0] for r in rows[i:] if r[1] == name and r[5] >= desired), None)
        later = next((r[0] for r in rows[i + 1 :] if r[1] == name and r[2] == "scale_in"), None)
        end = reached if reached is not None else later
        waits.append(end - time if end is not None else math.inf)
    servers = seconds / (hi - lo) if hi > lo else 0.0  # provisioned, on average
    served = per_server.sum()
    return {
        "queue_mean": float(rec.queue_area.sum() / seconds) if seconds else 0.0,
        "load_imbalance": float(per_server.max() * servers / served) if served else 1.0,
        "instances_peak": float(peak),
        "instance_hours": seconds / 3600,
        "scale_out_time": float(np.mean(waits)) if waits else math.nan,
        "utilization_mean": float(rec.busy_area.sum() / worker_seconds) if worker_seconds else 0.0,
    }
