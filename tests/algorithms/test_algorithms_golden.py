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
from pydantic import ValidationError

import lbsim.algorithms.weighted_round_robin as wrr_module
from lbsim.algorithms.base import HostSet, Params, RequestView
from lbsim.algorithms.jsq_oracle import JsqOracle
from lbsim.algorithms.least_connections import LeastConnections
from lbsim.algorithms.least_response_time import LeastResponseTime, LeastResponseTimeParams
from lbsim.algorithms.power_of_two import PowerOfTwo, PowerOfTwoParams
from lbsim.algorithms.random import RandomChoice
from lbsim.algorithms.round_robin import RoundRobin
from lbsim.algorithms.weighted_round_robin import WeightedRoundRobin
from lbsim.status import OK

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
    alg.hosts_changed(range(len(alg.backends)))
    assert alg.current_weights() == [1, -4, 3]
    # eligible a (5), c (1), total 6, b frozen at -4:
    # (6,4) a (0,4); (5,5) a, tie -> earlier (-1,5); (4,6) c (4,0); (9,1) a (3,1);
    # (8,2) a (2,2); (7,3) a (1,3): back to (1, 3) after 6 picks.
    assert "".join("abc"[alg.pick(RequestView(0)) or 0] for _ in range(6)) == "aacaaa"
    assert alg.current_weights() == [1, -4, 3]
    backends.available[1] = True
    alg.hosts_changed(range(len(alg.backends)))
    # (6,-3,4) a (-1,-3,4); (4,-2,5) c (4,-2,-2); (9,-1,-1) a; (7,0,0) a -> zero state.
    assert "".join("abc"[alg.pick(RequestView(0)) or 0] for _ in range(4)) == "acaa"
    assert alg.current_weights() == [0, 0, 0]


def test_swrr_returns_none_when_none_available() -> None:
    backends = make_backends([2, 3])
    alg = WeightedRoundRobin(backends, RNG, Params())
    backends.available[:] = [False, False]
    alg.hosts_changed(range(len(alg.backends)))
    assert alg.pick(RequestView(0)) is None
    backends.available[1] = True
    alg.hosts_changed(range(len(alg.backends)))
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
            alg.hosts_changed(range(len(alg.backends)))
        assert alg.pick(RequestView(0)) == reference.pick(), step
    assert alg.current_weights() == reference.current


# --------------------------------------------------------------------------
# round_robin: Envoy, equal weights


def test_round_robin_skips_unavailable() -> None:
    backends = make_backends([1, 1, 1, 1])
    alg = RoundRobin(backends, RNG, Params())
    assert [alg.pick(RequestView(0)) for _ in range(5)] == [0, 1, 2, 3, 0]
    backends.available[2] = False
    alg.hosts_changed(range(len(alg.backends)))
    assert [alg.pick(RequestView(0)) for _ in range(6)] == [1, 3, 0, 1, 3, 0]
    backends.available[:] = [False] * 4
    alg.hosts_changed(range(len(alg.backends)))
    assert alg.pick(RequestView(0)) is None


# --------------------------------------------------------------------------
# least_connections: HAProxy leastconn, key (inflight+1)*4096 // (16*weight), 0 when idle


def test_least_connections_idle_first_and_ties_round_robin() -> None:
    backends = make_backends([1, 1, 1])
    alg = LeastConnections(backends, RNG, Params())
    # all idle (key 0): queue order 0, 1, 2; each is re-queued behind when sent to.
    assert [pick_send(alg, backends) for _ in range(3)] == [0, 1, 2]
    # all at one in flight: key 2*4096//16 = 512 for each, in the order they were re-queued.
    assert [pick_send(alg, backends) for _ in range(3)] == [0, 1, 2]
    complete(alg, backends, 1)  # 1 in flight again -> key 512, behind 0 and 2 (key 768)
    assert pick_send(alg, backends) == 1
    complete(alg, backends, 2)
    complete(alg, backends, 2)  # idle -> key 0: first, however heavy the others
    assert pick_send(alg, backends) == 2


def test_least_connections_idle_beats_heavier_weight() -> None:
    backends = make_backends([256, 1])
    alg = LeastConnections(backends, RNG, Params())
    assert pick_send(alg, backends) == 0  # both idle: queue order
    # 0 now has key 2*4096 // (16*256) = 2 > 0: the idle weight-1 server comes first.
    assert pick_send(alg, backends) == 1


def test_least_connections_weighted_keys_integer_arithmetic() -> None:
    """Keys are floored integers, so unequal loads can tie and go round robin.

    a: weight 22, b: weight 15.  key = (inflight + 1) * 4096 // (16 * weight).
    a: 1 in flight -> 8192 // 352 = 23; 2 in flight -> 12288 // 352 = 34 (34.9 exact)
    b: 1 in flight -> 8192 // 240 = 34 (34.1 exact)
    """
    backends = make_backends([22, 15], "ab")
    alg = LeastConnections(backends, RNG, Params())
    trace = []
    trace.append(pick_send(alg, backends))  # both idle -> a; a key 23
    trace.append(pick_send(alg, backends))  # b idle (0) -> b; b key 34
    trace.append(pick_send(alg, backends))  # a 23 < b 34 -> a; a key 34, queued after b
    complete(alg, backends, 1)  # b idle -> key 0
    trace.append(pick_send(alg, backends))  # b; b key 34, now queued after a
    # a (2 in flight, exact 34.9) and b (1 in flight, exact 34.1) tie at 34: the one
    # queued earlier, a, wins although exact ratios would choose b.
    trace.append(pick_send(alg, backends))
    assert "".join("ab"[i] for i in trace) == "ababa"
    assert backends.outstanding == [3, 1]
    # a: 3 in flight -> 16384 // 352 = 46; b still 34 -> b.
    assert pick_send(alg, backends) == 1


def test_least_connections_ignores_unavailable() -> None:
    backends = make_backends([1, 1, 1])
    alg = LeastConnections(backends, RNG, Params())
    backends.available[0] = False
    alg.hosts_changed(range(len(alg.backends)))
    assert [pick_send(alg, backends) for _ in range(4)] == [1, 2, 1, 2]
    complete(alg, backends, 1)  # hooks for an unavailable backend must not requeue it
    send(alg, backends, 0)
    complete(alg, backends, 0)
    assert all(alg.pick(RequestView(0)) != 0 for _ in range(5))


# --------------------------------------------------------------------------
# power_of_two: Envoy least_request, draws with replacement, tie -> earlier draw


def test_power_of_two_scripted_draws() -> None:
    backends = make_backends([1, 1, 1, 1])
    backends.outstanding[:] = [3, 1, 1, 0]
    # index = int(u * 4): 0.3 -> 1, 0.6 -> 2 (1 vs 1: tie keeps the first draw)
    alg = PowerOfTwo(backends, scripted([0.3, 0.6]), PowerOfTwoParams())
    assert alg.pick(RequestView(0)) == 1
    # 0.0 -> 0 (3 in flight), 0.3 -> 1 (1): strictly fewer replaces
    alg = PowerOfTwo(backends, scripted([0.0, 0.3]), PowerOfTwoParams())
    assert alg.pick(RequestView(0)) == 1
    # 0.9 -> 3 (0), 0.0 -> 0 (3): the first stays
    alg = PowerOfTwo(backends, scripted([0.9, 0.0]), PowerOfTwoParams())
    assert alg.pick(RequestView(0)) == 3
    # with replacement: 0.5 -> 2 twice
    alg = PowerOfTwo(backends, scripted([0.5, 0.55]), PowerOfTwoParams())
    assert alg.pick(RequestView(0)) == 2


def test_power_of_two_three_choices_and_unavailable() -> None:
    backends = make_backends([1, 1, 1, 1])
    backends.outstanding[:] = [3, 1, 2, 0]
    # 0.3 -> 1 (1), 0.9 -> 3 (0): replaces, 0.6 -> 2 (2): no.
    alg = PowerOfTwo(backends, scripted([0.3, 0.9, 0.6]), PowerOfTwoParams(choices=3))
    assert alg.pick(RequestView(0)) == 3
    backends.available[3] = False
    # eligible [0, 1, 2]: index int(u * 3): 0.9 -> 2 (2), 0.0 -> 0 (3), 0.5 -> 1 (1)
    alg = PowerOfTwo(backends, scripted([0.9, 0.0, 0.5]), PowerOfTwoParams(choices=3))
    assert alg.pick(RequestView(0)) == 1
    with pytest.raises(ValidationError):
        PowerOfTwoParams(choices=1)


# --------------------------------------------------------------------------
# random: NGINX random, point in [0, total) looked up in cumulative weights


def test_random_scripted_points() -> None:
    backends = make_backends([1, 2, 7])  # ranges [0,1) [1,3) [3,10)
    alg = RandomChoice(backends, scripted([0.05, 0.15, 0.29, 0.3, 0.99]), Params())
    assert [alg.pick(RequestView(0)) for _ in range(5)] == [0, 1, 1, 2, 2]


def test_random_weighted_shares() -> None:
    """100k picks; the share of each backend is within 5 binomial sd of w/W.

    The largest sd, for p = 0.7, is sqrt(0.7 * 0.3 / 1e5) = 0.00145, so 5 sd
    is about 0.0072: a false alarm has probability below 1e-6.
    """
    n = 100_000
    backends = make_backends([1, 2, 7])
    alg = RandomChoice(backends, np.random.default_rng(42), Params())
    counts = Counter(alg.pick(RequestView(0)) for _ in range(n))
    for backend, weight in enumerate([1, 2, 7]):
        p = weight / 10
        assert abs(counts[backend] / n - p) < 5 * (p * (1 - p) / n) ** 0.5


# --------------------------------------------------------------------------
# least_response_time: NGINX least_time, EMA 0.05, eta = avg * (1 + conns) / weight


def test_least_response_time_ema_exact() -> None:
    backends = make_backends([1, 1])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams())
    send(alg, backends, 0)
    complete(alg, backends, 0, 0.100)
    assert alg.averages[0] == 0.100  # first sample taken as is
    for v in [0.200, 0.050, 1.000]:
        expected = 0.05 * v + 0.95 * alg.averages[0]
        send(alg, backends, 0)
        complete(alg, backends, 0, v)
        assert alg.averages[0] == expected
    assert alg.averages[0] == pytest.approx(0.05 * 1.0 + 0.95 * (0.05 * 0.05 + 0.95 * 0.105))
    alg1 = LeastResponseTime(backends, RNG, LeastResponseTimeParams(alpha=1.0))
    alg1.on_complete(1, 0.3, OK)
    alg1.on_complete(1, 0.7, OK)
    assert alg1.averages[1] == 0.7
    with pytest.raises(ValidationError):
        LeastResponseTimeParams(alpha=0.0)
    with pytest.raises(ValidationError):
        LeastResponseTimeParams(alpha=1.5)


def test_least_response_time_prefers_lower_eta() -> None:
    backends = make_backends([1, 1, 1])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams())
    # unmeasured backends (avg 0) first, round robin among them
    assert [pick_send(alg, backends) for _ in range(3)] == [0, 1, 2]
    # latencies that are exact in binary, so that equal products are equal floats
    complete(alg, backends, 0, 0.25)
    complete(alg, backends, 1, 0.125)
    complete(alg, backends, 2, 0.375)
    assert pick_send(alg, backends) == 1  # eta: 0.25, 0.125, 0.375
    # eta: 0.25, 0.125 * 2 = 0.25, 0.375: tie, 0 was queued earlier
    assert pick_send(alg, backends) == 0
    # 0.25 * 2 = 0.5, 0.25, 0.375 -> 1
    assert pick_send(alg, backends) == 1
    # 0.5, 0.125 * 3 = 0.375, 0.375: tie, 2 was queued earlier
    assert pick_send(alg, backends) == 2
    assert backends.outstanding == [1, 2, 1]


def test_least_response_time_divides_by_weight() -> None:
    backends = make_backends([1, 2])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams())
    alg.on_complete(0, 0.2, OK)
    alg.on_complete(1, 0.3, OK)
    assert alg.pick(RequestView(0)) == 1  # 0.2 / 1 > 0.3 / 2
    backends.outstanding[1] = 1
    alg.on_send(1)
    assert alg.pick(RequestView(0)) == 0  # 0.3 * 2 / 2 = 0.3 > 0.2


# --------------------------------------------------------------------------
# jsq_oracle: true load, ties at random


def test_jsq_oracle_reads_true_load() -> None:
    true = [5, 2, 7, 2]
    backends = HostSet(["a", "b", "c", "d"], [1, 1, 1, 1], true_load=lambda i: true[i])
    backends.outstanding[:] = [0, 9, 0, 0]  # the balancer's own counts are ignored
    alg = JsqOracle(backends, scripted([0.2, 0.7]), Params())
    # ties 1 and 3 (load 2): index int(u * 2): 0.2 -> 1, 0.7 -> 3
    assert [alg.pick(RequestView(0)), alg.pick(RequestView(0))] == [1, 3]
    backends.available[1] = False
    alg.hosts_changed(range(len(alg.backends)))
    assert alg.pick(RequestView(0)) == 3
    with pytest.raises(ValueError, match="true load"):
        JsqOracle(make_backends([1]), RNG, Params())
