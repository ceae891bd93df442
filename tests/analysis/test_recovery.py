"""recovery_time on synthetic series whose answer is known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lbsim.analysis.recovery import recovery_time

# 100 requests per second for 100 s, each answered ok in 10 ms.
ARRIVAL = np.arange(10_000) / 100.0
BASE = np.full(len(ARRIVAL), 0.010)
WINDOWS = {"before": (0.0, 40.0), "removed": 50.0, "end": 100.0, "window": 2.0}


def _time(latency: np.ndarray, ok: np.ndarray | None = None, **changes: float) -> float:
    ok = np.ones(len(ARRIVAL), dtype=bool) if ok is None else ok
    return recovery_time(ARRIVAL, latency, ok, **{**WINDOWS, **changes})  # type: ignore[arg-type]


def test_undisturbed_is_zero() -> None:
    assert _time(BASE) == 0.0


def test_slow_until_a_time_is_found_at_window_resolution() -> None:
    # Latency 1 s during the trigger (40-50 s) and until 57 s: the windows
    # [50, 52) ... [56, 58) still hold slow requests (all of [56, 57) is 50 %
    # of its window, far above the 1 % a p99 tolerates); [58, 60) is clean.
    latency = np.where((ARRIVAL >= 40) & (ARRIVAL < 57), 1.0, BASE)
    assert _time(latency) == 8.0
    # within 10 %: 10.5 ms is recovered, 11.5 ms is not
    assert _time(np.where(ARRIVAL >= 40, 0.0105, BASE)) == 0.0
    assert math.isinf(_time(np.where(ARRIVAL >= 40, 0.0115, BASE)))


def test_goodput_counts_too() -> None:
    # Fast answers but 20 % of them failing until 70 s: goodput 80 % of before.
    ok = ~((ARRIVAL >= 40) & (ARRIVAL < 70) & (np.arange(len(ARRIVAL)) % 5 == 0))
    assert _time(BASE, ok) == 20.0
    # 5 % failing is within the 10 % tolerance
    ok = ~((ARRIVAL >= 40) & (np.arange(len(ARRIVAL)) % 20 == 0))
    assert _time(BASE, ok) == 0.0


def test_never_recovers_is_inf_and_no_reference_is_nan() -> None:
    collapsed = ARRIVAL < 40
    assert math.isinf(_time(BASE, collapsed))
    assert math.isnan(_time(BASE, ~collapsed))


def test_tolerance_is_relative() -> None:
    latency = np.where(ARRIVAL >= 40, 0.0115, BASE)
    assert _time(latency, tolerance=0.2) == pytest.approx(0.0)
