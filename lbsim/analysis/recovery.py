"""The summary's optional metrics: extra load of request patterns, recovery time.

``recovery_time`` (issue 12, metastability): a trigger (a load spike, a slow
dependency) acts from ``trigger_start`` to ``trigger_end``. Before it, over
the requests that arrived between the warm-up and ``trigger_start``, the
system has a p99 latency (of ``ok`` requests) and a goodput (``ok``
requests per second). After it, the requests are cut by arrival time into
windows ``[trigger_end + k·w, trigger_end + (k+1)·w)`` up to the end of
arrivals; the recovery time is ``k·w`` for the first window whose p99 is at
most ``(1 + tolerance)`` × the p99 before and whose goodput is at least
``(1 − tolerance)`` × the goodput before: 0 if the first window after the
trigger is already fine, ``inf`` if none is (a metastable failure: the
system stays down after its trigger is gone). Its resolution is one window.
"""

from __future__ import annotations

import math

import numpy as np

from lbsim.engine.records import OK, Recorder
from lbsim.engine.workload import Workload
from lbsim.scenario import Variant

PATTERN_FIELDS = ("clients.hedge", "clients.fanout")


def recovery_time(
    arrival: np.ndarray,
    latency: np.ndarray,
    ok: np.ndarray,
    *,
    before: tuple[float, float],
    removed: float,
    end: float,
    window: float,
    tolerance: float = 0.1,
) -> float:
    """Seconds from ``removed`` until p99 and goodput are back (module docstring).

    ``arrival``, ``latency`` and ``ok`` are per request; ``before`` is the
    reference interval of arrival times; windows run from ``removed`` to ``end``.
    """
    p99_before, goodput_before = _levels(arrival, latency, ok, *before)
    if math.isinf(p99_before):  # nothing answered before the trigger: no reference
        return math.nan
    windows = math.floor((end - removed) / window + 1e-9)
    for k in range(windows):
        lo = removed + k * window
        p99, goodput = _levels(arrival, latency, ok, lo, lo + window)
        if p99 <= (1 + tolerance) * p99_before and goodput >= (1 - tolerance) * goodput_before:
            return k * window
    return math.inf


def _levels(
    arrival: np.ndarray, latency: np.ndarray, ok: np.ndarray, lo: float, hi: float
) -> tuple[float, float]:
    """p99 latency of the ok requests that arrived in [lo, hi) (inf: none), and their rate."""
    answered = latency[(arrival >= lo) & (arrival < hi) & ok]
    p99 = float(np.percentile(answered, 99)) if len(answered) else math.inf
    return p99, len(answered) / (hi - lo)


def pattern_metrics(
    variant: Variant, workload: Workload, rec: Recorder, first: int
) -> dict[str, float]:
    """``extra_load`` (hedge, fan-out; 0 for a variant of a comparison
    that varies them and has neither) and ``recovery_time`` (``recovery:``),
    when asked for, over the requests from index ``first`` (the measured ones)."""
    scenario = variant.scenario
    row: dict[str, float] = {}
    if rec.extra is not None:
        extra = rec.extra[first:]
        row["extra_load"] = float(extra.mean()) if len(extra) else 0.0
    elif any(path.startswith(PATTERN_FIELDS) for path in variant.params):
        row["extra_load"] = 0.0
    recovery = scenario.recovery
    if recovery is not None:
        arrival = workload.arrival[first:]
        row["recovery_time"] = recovery_time(
            arrival,
            rec.end[first:] - arrival,
            rec.status[first:] == OK,
            before=(scenario.warmup, recovery.trigger_start),
            removed=recovery.trigger_end,
            end=scenario.duration,
            window=recovery.window,
            tolerance=recovery.tolerance,
        )
    return row
