"""Retry back-off waits, by hand from the formulas of the AWS Architecture
Blog's "Exponential Backoff and Jitter" (Brooker, 2015; the post's simulator
aws-samples/aws-arch-backoff-simulator) and Envoy's router filter.

base = 5 ms, cap = 40 ms; retry N follows failed attempt N - 1, so
e(N) = min(cap, base · 2^N) = 10, 20, 40, 40 ms for N = 1..4. The scripted
uniforms are u = 0.5, 0.25, 1.0 - 2^-53 (just below 1), 0.0.
"""

from __future__ import annotations

from typing import Any

import pytest

from lbsim.algorithms.draws import Uniforms
from lbsim.engine.backoff import Backoffs
from lbsim.scenario.models import Backoff

U = [0.5, 0.25, 1.0 - 2**-53, 0.0]


class Scripted:
    """A generator whose ``random(n)`` returns the scripted values."""

    def random(self, size: int) -> Any:
        import numpy as np

        return np.array(U[:size])


def waits(jitter: str, request: int = 7) -> list[float]:
    backoffs = Backoffs(
        Backoff(base=0.005, max=0.040, jitter=jitter),  # type: ignore[arg-type]
        Uniforms(Scripted(), block=len(U)),  # type: ignore[arg-type]
    )
    return [backoffs.delay(request, attempt) for attempt in range(4)]


def test_plain_exponential_doubles_to_the_cap_without_randomness() -> None:
    assert waits("none") == pytest.approx([0.010, 0.020, 0.040, 0.040])


def test_full_jitter_is_uniform_below_the_exponential() -> None:
    # u · e(N): 0.5·10, 0.25·20, ≈1·40, 0·40 ms
    assert waits("full") == pytest.approx([0.005, 0.005, 0.040, 0.0])


def test_equal_jitter_keeps_half_and_jitters_half() -> None:
    # e/2 + u·e/2: 5 + 2.5, 10 + 2.5, 20 + ≈20, 20 + 0 ms
    assert waits("equal") == pytest.approx([0.0075, 0.0125, 0.040, 0.020])


def test_decorrelated_jitter_grows_from_the_previous_wait() -> None:
    # sleep = min(cap, uniform(base, 3·sleep)), sleep = base at first:
    # 5 + 0.5·(15 - 5) = 10; 5 + 0.25·(30 - 5) = 11.25;
    # 5 + ≈1·(33.75 - 5) = 33.75; 5 + 0·(...) = 5 ms
    assert waits("decorrelated") == pytest.approx([0.010, 0.01125, 0.03375, 0.005])


def test_envoy_is_uniform_below_two_to_the_n_minus_one_bases() -> None:
    # u · min(cap, (2^N - 1)·base): 0.5·5, 0.25·15, ≈1·35, 0·40 ms
    assert waits("envoy") == pytest.approx([0.0025, 0.00375, 0.035, 0.0])


def test_decorrelated_memory_is_per_request_and_forgotten() -> None:
    backoffs = Backoffs(
        Backoff(base=0.005, max=0.040, jitter="decorrelated"),
        Uniforms(Scripted(), block=len(U)),  # type: ignore[arg-type]
    )
    assert backoffs.delay(1, 0) == pytest.approx(0.010)  # 5 + 0.5·10
    # another request starts from base again: 5 + 0.25·10
    assert backoffs.delay(2, 0) == pytest.approx(0.0075)
    backoffs.forget(1)
    # request 1 forgotten: from base again, 5 + ≈1·10
    assert backoffs.delay(1, 0) == pytest.approx(0.015)
