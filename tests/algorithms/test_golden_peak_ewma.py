"""Golden sequences for peak_ewma, derived by hand from Envoy's and Finagle's
rule (lbsim/algorithms/policies/peak_ewma.py): two distinct candidates
``first = r % n``, ``second = (first + 1 + (r >> 16) % (n - 1)) % n`` from one
scripted 64-bit draw ``r``; cost = peak-EWMA RTT (ms) × (active + 1); a read
decays the average by ``w = exp(-td / 10 s)`` towards 0; a sample above the
average replaces it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from lbsim.algorithms import available
from lbsim.algorithms.base import RequestView
from lbsim.algorithms.policies.peak_ewma import PENALTY, TOP_BIT, PeakEwma, PeakEwmaParams
from lbsim.status import OK, TIMEOUT
from tests.algorithms.test_algorithms_golden import make_backends


class ScriptedWords:
    """Stands in for a Generator: ``integers`` gives the scripted words, then 0."""

    def __init__(self, words: list[int]) -> None:
        self.words = words

    def integers(self, low: int, high: int, size: int, dtype: Any) -> np.ndarray:
        block = (self.words + [0] * size)[:size]
        self.words = []
        return np.array(block, dtype=np.uint64)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(words: list[int], weights: int = 3, **params: Any) -> tuple[PeakEwma, Clock]:
    alg = PeakEwma(make_backends([1] * weights), ScriptedWords(words), PeakEwmaParams(**params))  # type: ignore[arg-type]
    clock = Clock()
    alg.clock = clock
    return alg, clock


def test_registered_with_envoy_defaults() -> None:
    spec = available()["peak_ewma"]
    assert (
        type(spec.factory(make_backends([1]), np.random.default_rng(0), spec.params())) is PeakEwma
    )
    params = PeakEwmaParams()
    assert (params.decay_time, params.default_rtt) == (10.0, 0.010)
    with pytest.raises(ValidationError, match="decay_time"):
        PeakEwmaParams(decay_time=0)


def test_candidates_ties_and_the_peak() -> None:
    # n = 3, every host at the default 10 ms, idle: every cost is 10 × 1.
    # r = 0: first 0, second (0 + 1 + 0 % 2) % 3 = 1; tie, top bit clear -> second (1).
    # r = 2^63: 2^63 % 3 = 2 (2^odd ≡ 2 mod 3); (r >> 16) = 2^47, % 2 = 0, so
    #   second (2 + 1 + 0) % 3 = 0; tie, top bit set -> first (2).
    # r = 65536: 65536 = 3 · 21845 + 1 -> first 1; r >> 16 = 1 -> second (1+1+1) % 3 = 0.
    alg, clock = make([0, TOP_BIT, 65536])
    request = RequestView(0)
    assert alg.pick(request) == 1
    assert alg.pick(request) == 2
    # host 1 answers at t = 1 s in 50 ms: 50 > 10, the peak replaces the average.
    clock.now = 1.0
    alg.on_complete(1, 0.050, OK)
    assert alg.rtt[1] == 50.0
    # third pick at t = 1: host 1 costs 50 × 1; host 0, read 1 s after its
    # stamp, 10 · e^-0.1 = 9.048 × 1: host 0 is cheaper.
    assert alg.pick(request) == 0
    assert alg.rtt[0] == pytest.approx(10 * math.exp(-0.1))


def test_decay_blend_and_load_factor() -> None:
    alg, clock = make([])
    alg.on_complete(0, 0.050, OK)  # t = 0: peak, rtt 50 ms
    clock.now = 10.0
    # a read 10 s later: 50 · e^-1 = 18.39; two requests in flight: × 3
    alg.backends.outstanding[0] = 2
    assert alg.cost(0) == pytest.approx(50 * math.exp(-1) * 3)
    # a sample below the average blends: at t = 20, 18.39 · e^-1 + 5 · (1 - e^-1)
    clock.now = 20.0
    alg.on_complete(0, 0.005, TIMEOUT)  # timeouts are observed like any answer
    w = math.exp(-1)
    assert alg.rtt[0] == pytest.approx(50 * w * w + 5 * (1 - w))


def test_penalty_for_a_busy_host_without_latency() -> None:
    # default_rtt 0: a host with no average but 2 requests in flight costs
    # PENALTY + 2 = (2^63 - 1) >> 16 + 2; an idle one costs 0.
    alg, _ = make([0], weights=2, default_rtt=0.0)
    alg.backends.outstanding[1] = 2
    assert PENALTY == 140737488355327.0
    assert alg.cost(1) == PENALTY + 2
    assert alg.cost(0) == 0.0
    # r = 0: first 0, second 1 (n = 2: (0 + 1 + 0) % 2); host 0 (cost 0) wins
    assert alg.pick(RequestView(0)) == 0


def test_retries_leave_tried_hosts_out() -> None:
    alg, _ = make([])
    # two untried hosts remain [0, 2]: r = 0 -> first 0, second 1 -> host 2; tie,
    # top bit clear -> host 2
    assert alg.pick(RequestView(0, attempt=1, tried={1})) == 2
    assert alg.pick(RequestView(0, attempt=2, tried={1, 2})) == 0  # one left: no draw
    assert alg.pick(RequestView(0, attempt=3, tried={0, 1, 2})) is None
