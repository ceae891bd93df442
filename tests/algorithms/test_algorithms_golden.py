"""Golden sequences: every built-in algorithm against the real system's rule.

Each expectation is worked out by hand from the rule (NGINX, HAProxy, Envoy
source; see shared/reference/lb-semantics.md beside the project), not
recorded from the code. Requests are driven the way the balancer does it: ``outstanding[b]``
is incremented before ``on_send(b)`` and decremented before
``on_complete(b, latency, OK)``.
"""

from __future__ import annotations

import random as pyrandom
from collections import Counter
from typing import Any

import numpy as np
import pytest

import lbsim.algorithms.weighted_round_robin as wrr_module
from lbsim.algorithms.base import HostSet, Params, RequestView
from lbsim.algorithms.weighted_round_robin import WeightedRoundRobin
from lbsim.status import OK
from tests.conftest import notify_all

RNG = np.random.default_rng(0)


class ScriptedRng:
    """Stands in for a numpy Generator: ``random(size)`` returns the scripted draws.

    ``Uniforms`` fetches a whole block at once; the script is padded with
    0.0 so that only the scripted draws matter.
    """

    def __init__(self, draws: list[float]) -> None:
        self.draws = draws
        self.calls = 0

    def random(self, size: int) -> np.ndarray:
        self.calls += 1
        block = np.zeros(size)
        block[: len(self.draws)] = self.draws
        return block


def scripted(draws: list[float]) -> Any:
    return ScriptedRng(draws)


def make_backends(weights: list[int], names: str | list[str] | None = None) -> HostSet:
    labels = [f"s{i}" for i in range(len(weights))] if names is None else list(names)
    return HostSet(labels, weights)


def send(alg: Any, backends: HostSet, backend: int) -> None:
    backends.outstanding[backend] += 1
    alg.on_send(backend)


def complete(alg: Any, backends: HostSet, backend: int, latency: float = 0.0) -> None:
    backends.outstanding[backend] -= 1
    alg.on_complete(backend, latency, OK)


def pick_send(alg: Any, backends: HostSet, key: int = 0) -> int:
    backend = alg.pick(RequestView(key))
    assert backend is not None
    send(alg, backends, backend)
    return backend


def ip(a: int, b: int, c: int, d: int) -> int:
    return (a << 24) | (b << 16) | (c << 8) | d


# --------------------------------------------------------------------------
# weighted_round_robin: NGINX smooth weighted round robin


class DirectSwrr:
    """NGINX ngx_http_upstream_get_peer, transcribed: O(n) per pick, no schedule."""

    def __init__(self, backends: HostSet) -> None:
        self.backends = backends
        self.current = [0] * len(backends)

    def pick(self) -> int | None:
        best: int | None = None
        total = 0
        for i, weight in enumerate(self.backends.weights):
            if not self.backends.available[i]:
                continue
            self.current[i] += weight
            total += weight
            if best is None or self.current[i] > self.current[best]:
                best = i
        if best is not None:
            self.current[best] -= total
        return best


def test_swrr_5_1_1_is_a_a_b_a_c_a_a() -> None:
    backends = make_backends([5, 1, 1], "abc")
    alg = WeightedRoundRobin(backends, RNG, Params())
    picks = "".join("abc"[alg.pick(RequestView(0)) or 0] for _ in range(14))
    # current weights (a, b, c) after adding weights, winner, after paying 7:
    # (5,1,1) a (-2,1,1); (3,2,2) a (-4,2,2); (1,3,3) b (1,-4,3); (6,-3,4) a (-1,-3,4);
    # (4,-2,5) c (4,-2,-2); (9,-1,-1) a (2,-1,-1); (7,0,0) a (0,0,0): back to the start.
    assert picks == "aabacaa" * 2
    assert alg.current_weights() == [0, 0, 0]


def test_swrr_tie_goes_to_earlier_peer() -> None:
    backends = make_backends([1, 1, 1])
    alg = WeightedRoundRobin(backends, RNG, Params())
    assert [alg.pick(RequestView(0)) for _ in range(6)] == [0, 1, 2, 0, 1, 2]


def test_swrr_skips_unavailable_and_keeps_its_current_weight() -> None:
    backends = make_backends([5, 1, 1], "abc")
    alg = WeightedRoundRobin(backends, RNG, Params())
    assert [alg.pick(RequestView(0)) for _ in range(3)] == [0, 0, 1]  # a a b, state (1, -4, 3)
    backends.available[1] = False
    notify_all(alg.backends)
    assert alg.current_weights() == [1, -4, 3]
    # eligible a (5), c (1), total 6, b frozen at -4:
    # (6,4) a (0,4); (5,5) a, tie -> earlier (-1,5); (4,6) c (4,0); (9,1) a (3,1);
    # (8,2) a (2,2); (7,3) a (1,3): back to (1, 3) after 6 picks.
    assert "".join("abc"[alg.pick(RequestView(0)) or 0] for _ in range(6)) == "aacaaa"
    assert alg.current_weights() == [1, -4, 3]
    backends.available[1] = True
    notify_all(alg.backends)
    # (6,-3,4) a (-1,-3,4); (4,-2,5) c (4,-2,-2); (9,-1,-1) a; (7,0,0) a -> zero state.
    assert "".join("abc"[alg.pick(RequestView(0)) or 0] for _ in range(4)) == "acaa"
    assert alg.current_weights() == [0, 0, 0]


def test_swrr_returns_none_when_none_available() -> None:
    backends = make_backends([2, 3])
    alg = WeightedRoundRobin(backends, RNG, Params())
    backends.available[:] = [False, False]
    notify_all(alg.backends)
    assert alg.pick(RequestView(0)) is None
    backends.available[1] = True
    notify_all(alg.backends)
    assert [alg.pick(RequestView(0)) for _ in range(3)] == [1, 1, 1]


@pytest.mark.parametrize("seed", range(5))
def test_swrr_period_property(seed: int) -> None:
    """From the zero state each peer is chosen w_i times per W picks, then it repeats."""
    r = pyrandom.Random(seed)
    weights = [r.randint(1, 12) for _ in range(r.randint(2, 30))]
    total = sum(weights)
    alg = WeightedRoundRobin(make_backends(weights), RNG, Params())
    first = [alg.pick(RequestView(0)) for _ in range(total)]
    assert Counter(first) == {i: w for i, w in enumerate(weights)}
    assert alg.current_weights() == [0] * len(weights)
    assert [alg.pick(RequestView(0)) for _ in range(total)] == first


@pytest.mark.parametrize("cap", [wrr_module.SCHEDULE_CAP, 10])
@pytest.mark.parametrize("seed", range(6))
def test_swrr_replay_matches_direct_rule_across_changes(
    seed: int, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The precomputed schedule is the NGINX rule pick by pick, whatever changes.

    With ``cap=10`` most totals exceed the cap, which exercises the block mode.
    """
    monkeypatch.setattr(wrr_module, "SCHEDULE_CAP", cap)
    monkeypatch.setattr(wrr_module, "BLOCK", 7)
    r = pyrandom.Random(seed)
    n = r.choice([3, 5, 12, 40])  # 40 uses the numpy passes
    backends = make_backends([r.randint(1, 9) for _ in range(n)])
    alg = WeightedRoundRobin(backends, RNG, Params())
    reference = DirectSwrr(backends)
    for step in range(1500):
        if r.random() < 0.03:
            i = r.randrange(n)
            backends.available[i] = not backends.available[i]
            if r.random() < 0.3:
                backends.weights[i] = r.randint(1, 9)
            notify_all(alg.backends)
        assert alg.pick(RequestView(0)) == reference.pick(), step
    assert alg.current_weights() == reference.current


# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
