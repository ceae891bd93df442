"""Golden sequences for round_robin (Envoy), weighted_round_robin (NGINX smooth
WRR with effective_weight), least_connections (HAProxy leastconn, 3.1 and 3.2
tie rules) and nginx_least_conn (NGINX least_conn).

Every expected sequence is worked out by hand from the proxy's source rule
(see each module's docstring and shared/reference/lb-semantics.md §1-2), with
the derivation beside it; none is recorded from the code. Availability changes go
through ``HostSet.update``, which notifies the algorithm. Requests are driven
as the balancer drives them: ``outstanding[h] += 1`` before ``on_send(h)``,
``outstanding[h] -= 1`` before ``on_complete(h, latency, status)``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from lbsim.algorithms import available
from lbsim.algorithms.base import EdfScheduler, HostSet, Params, RequestView
from lbsim.algorithms.least_connections import LeastConnections, LeastConnectionsParams
from lbsim.algorithms.nginx_least_conn import NginxLeastConn
from lbsim.algorithms.round_robin import RoundRobin
from lbsim.algorithms.weighted_round_robin import NginxParams, WeightedRoundRobin
from lbsim.status import CONN_ERROR, OK, SERVER_ERROR, TIMEOUT


class ScriptedRng:
    """Stands in for a numpy Generator.

    ``integers`` returns ``seed`` (RoundRobin's Envoy ``seed_``); ``random(size)``
    returns the scripted uniforms, then zeros (``Uniforms`` fetches blocks).
    """

    def __init__(self, seed: int = 0, draws: tuple[float, ...] = ()) -> None:
        self.seed = seed
        self.draws = draws

    def integers(self, *args: Any, **kwargs: Any) -> np.uint64:
        return np.uint64(self.seed)

    def random(self, size: int) -> np.ndarray:
        block = np.zeros(size)
        block[: len(self.draws)] = self.draws
        return block


def rng(seed: int = 0, draws: tuple[float, ...] = ()) -> Any:
    return ScriptedRng(seed, draws)


def hosts(weights: list[int]) -> HostSet:
    return HostSet([f"s{i}" for i in range(len(weights))], weights)


def view(tried: tuple[int, ...] = ()) -> RequestView:
    return RequestView(0, attempt=1 if tried else 0, tried=tried)


def picks(alg: Any, count: int) -> list[int | None]:
    return [alg.pick(view()) for _ in range(count)]


def letters(alg: Any, count: int) -> str:
    return "".join("abcdefgh"[h] for h in picks(alg, count))  # type: ignore[index]


def send(alg: Any, backends: HostSet, host: int) -> None:
    backends.outstanding[host] += 1
    alg.on_send(host)


def complete(alg: Any, backends: HostSet, host: int, status: int = OK) -> None:
    backends.outstanding[host] -= 1
    alg.on_complete(host, 0.01, status)


def pick_send(alg: Any, backends: HostSet, tried: tuple[int, ...] = ()) -> int:
    host = alg.pick(view(tried))
    assert host is not None
    send(alg, backends, host)
    return int(host)


# --------------------------------------------------------------------------
# round_robin: Envoy. hosts[rr_index++ % hosts.size()] over the usable hosts,
# rr_index starting at the instance's seed; unequal weights -> EDF.


def test_round_robin_index_over_usable_hosts_from_seed() -> None:
    backends = hosts([1, 1, 1, 1])
    alg = RoundRobin(backends, rng(seed=4), Params())
    # index 4, 5, 6, 7, 8 over 4 hosts: 4%4=0, 1, 2, 3, 0
    assert picks(alg, 5) == [0, 1, 2, 3, 0]
    # host 1 leaves: the list is [0, 2, 3] and the index (9) carries on:
    # 9%3=0 -> 0, 10%3=1 -> 2, 11%3=2 -> 3, 12%3=0 -> 0.
    # (Walking the old list skipping host 1 would give 2, 3, 0, 2.)
    backends.update([True, False, True, True])
    assert picks(alg, 4) == [0, 2, 3, 0]
    backends.update([False] * 4)
    assert alg.pick(view()) is None


def test_round_robin_start_is_the_full_64_bit_seed() -> None:
    # seed = 7·2^32 + 3: the unweighted index uses all of it, 3 + 7·2^32 ≡ 3 (mod 4)
    # since 2^32 ≡ 0 (mod 4); so the first host is 3. With 3 hosts, 2^32 ≡ 1
    # (mod 3): index ≡ 3 + 7 = 10 ≡ 1 -> host 1 (a truncated seed would give 0).
    assert RoundRobin(hosts([1] * 4), rng(seed=(7 << 32) + 3), Params()).pick(view()) == 3
    assert RoundRobin(hosts([1] * 3), rng(seed=(7 << 32) + 3), Params()).pick(view()) == 1


def test_round_robin_random_start_per_instance() -> None:
    """64 instances seeded 0..63 from numpy: the first pick over 4 hosts is
    uniform, so each host is first with probability 1/4; the chance that one
    of them never is first is at most 4 · (3/4)^64 < 1e-7."""
    first = Counter(
        RoundRobin(hosts([1] * 4), np.random.default_rng(s), Params()).pick(view())
        for s in range(64)
    )
    assert set(first) == {0, 1, 2, 3}


def test_round_robin_unequal_weights_edf() -> None:
    """Weights a=2, b=2, c=1, seed 0 (no pre-picks).

    createWithPicks(picks=0): every floor is 0; a and b are due at
    1/(2+1e-13) = 0.5-δ (orders 0, 1), c at 1/(1+1e-13) = 1-1e-13 (order 2).
    pick a (tie with b, earlier order), re-added at 1-δ (order 3); pick b,
    re-added at 1-δ (order 4); c (1-1e-13 < 1-δ, δ = 2.5e-14) is next, re-added
    at 2-1e-13; then a, b at 1-δ (orders 3, 4), re-added at 1.5-δ; a, b again
    (-> 2-δ); then c (2-1e-13 < 2-δ). So: a b c a b a b c, period a b a b c.
    """
    alg = RoundRobin(hosts([2, 2, 1]), rng(seed=0), Params())
    assert letters(alg, 13) == "abc" + "ababc" * 2


def test_round_robin_edf_pre_picks_from_low_32_bits_of_seed() -> None:
    """Seed 7·2^32 + 3: Envoy passes seed_ to createWithPicks as uint32, so 3 picks.

    W = 5+3e-13; floors: a int(2·3/5) = 1, b 1, c int(0.6) = 0 (a's guard
    1/2 >= 0.6 is false, so no correction); a and b are due at 2/(2+1e-13) =
    1-5e-14 (orders 0, 1), c at 1-1e-13 (order 2); one pick is left to do: c,
    re-added at 2-1e-13. So the next picks are a b (-> 1.5-), a b (-> 2-5e-14),
    c: a b a b c, which is what a fresh schedule gives after its first 3 picks
    (a b c | a b a b c).
    """
    alg = RoundRobin(hosts([2, 2, 1]), rng(seed=(7 << 32) + 3), Params())
    assert letters(alg, 5) == "ababc"
    fresh = EdfScheduler([0, 1, 2], lambda h: [2.0, 2.0, 1.0][h], 0)
    assert [fresh.pick(lambda h: [2.0, 2.0, 1.0][h]) for _ in range(8)] == [0, 1, 2, 0, 1, 0, 1, 2]


def test_round_robin_edf_weights_one_and_two() -> None:
    """Exact weights 1 and 2 (no epsilon after creation): a=1, b=2.

    Start: a due 1-1e-13, b 0.5-2.5e-14. b (re-added at 1-2.5e-14); a
    (1-1e-13 is earlier; re-added 2-1e-13); b (-> 1.5-); b (-> 2-2.5e-14);
    a (2-1e-13 earlier); b; b; a: b a b b a b b a.
    """
    alg = RoundRobin(hosts([1, 2]), rng(seed=0), Params())
    assert letters(alg, 8) == "babbabba"


def test_round_robin_edf_rebuilt_on_membership_change() -> None:
    backends = hosts([2, 2, 1])
    alg = RoundRobin(backends, rng(seed=0), Params())
    assert letters(alg, 4) == "abca"  # as above
    # c leaves: a and b have equal weights, so Envoy drops EDF and uses the
    # round-robin index, never used so far: seed 0 -> 0%2 = a, b, a, b.
    backends.update([True, True, False])
    assert letters(alg, 4) == "abab"
    # c back: the EDF is rebuilt with the same seed, so it starts over.
    backends.update([True, True, True])
    assert letters(alg, 8) == "abcababc"


def test_round_robin_edf_weight_change_keeps_schedule() -> None:
    """Weights 2, 2, 1, seed 0: a b c (a, b due at 1-δ, orders 3, 4; c at 2-1e-13).
    a's weight becomes 1 (slow start): no rebuild; each host is re-added with
    its weight at pick time. a (1-δ) -> re-added at 2-δ; b (1-δ) -> 1.5-δ; b ->
    2-δ; then c (2-1e-13 < 2-δ): a b b c. A rebuild (fresh EDF on 1, 2, 1)
    would start b a c b instead."""
    backends = hosts([2, 2, 1])
    alg = RoundRobin(backends, rng(seed=0), Params())
    assert letters(alg, 3) == "abc"
    backends.set_weights({0: 1})
    assert letters(alg, 4) == "abbc"
    fresh = RoundRobin(hosts([1, 2, 1]), rng(seed=0), Params())
    assert letters(fresh, 4) == "bacb"


def test_round_robin_retry_skips_tried_consuming_turns() -> None:
    backends = hosts([1, 1, 1, 1])
    alg = RoundRobin(backends, rng(seed=0), Params())
    # index 0 -> host 0, tried: skipped (index consumed) -> index 1 -> host 1
    assert alg.pick(view(tried=(0,))) == 1
    assert alg.pick(view()) == 2  # index 2
    # every host tried: Envoy keeps its selection, the next in turn (index 3)
    assert alg.pick(view(tried=(0, 1, 2, 3))) == 3
    assert alg.pick(view()) == 0
    edf = RoundRobin(hosts([2, 2, 1]), rng(seed=0), Params())
    # EDF a b c ...: a tried -> b; then c
    assert edf.pick(view(tried=(0,))) == 1
    assert edf.pick(view()) == 2


# --------------------------------------------------------------------------
# weighted_round_robin: NGINX smooth WRR, effective_weight after failures


def test_swrr_failure_lowers_effective_weight_and_recovers_by_one() -> None:
    """Weights a=5, b=1, c=1, max_fails=1.

    First pick: (5,1,1) -> a, state (-2,1,1). a fails: effective 5 - 5//1 = 0.
    Each pass adds effective_weight, then raises it by 1 (current; winner pays total):
      eff a 0: (-2,2,2) total 2 -> b (first of the 2s) -> (-2,0,2); eff a -> 1
      eff a 1: (-1,1,3) total 3 -> c -> (-1,1,0);                  eff a -> 2
      eff a 2: (1,2,1)  total 4 -> b -> (1,-2,1);                  eff a -> 3
      eff a 3: (4,-1,2) total 5 -> a -> (-1,-1,2);                 eff a -> 4
      eff a 4: (3,0,3)  total 6 -> a (tie with c: earlier) -> (-3,0,3); eff a -> 5
    then plain 5,1,1 from (-3,0,3): (2,1,4) c; (7,2,-2) a; (5,3,-1) a; (3,4,0) b;
    (8,-2,1) a; (6,-1,2) a; (4,0,3) a -> (-3,0,3) again: period c a a b a a a.
    """
    backends = hosts([5, 1, 1])
    alg = WeightedRoundRobin(backends, rng(), NginxParams())
    assert letters(alg, 1) == "a"
    alg.on_complete(0, 0.01, CONN_ERROR)
    assert letters(alg, 5) == "bcbaa"
    assert alg.current_weights() == [-3, 0, 3]
    assert letters(alg, 14) == "caabaaa" * 2


def test_swrr_timeout_is_a_failure_5xx_is_not() -> None:
    alg = WeightedRoundRobin(hosts([5, 1, 1]), rng(), NginxParams())
    assert letters(alg, 1) == "a"
    alg.on_complete(0, 0.01, SERVER_ERROR)  # proxy_next_upstream default: error timeout
    assert letters(alg, 6) == "abacaa"  # the rest of a a b a c a a, undisturbed
    alg = WeightedRoundRobin(hosts([5, 1, 1]), rng(), NginxParams())
    assert letters(alg, 1) == "a"
    alg.on_complete(0, 0.01, TIMEOUT)
    assert letters(alg, 5) == "bcbaa"  # as after CONN_ERROR above


def test_swrr_max_fails_divides_the_drop() -> None:
    """max_fails=2: a failure takes 5//2 = 2 off a's effective weight (5 -> 3).

    From (-2,1,1) after the first a:
      eff a 3: (1,2,2) total 5 -> b -> (1,-3,2); eff a -> 4
      eff a 4: (5,-2,3) total 6 -> a -> (-1,-2,3); eff a -> 5 (recovered)
    then 5,1,1: (4,-1,4) a (tie, earlier) -> (-3,-1,4); (2,0,5) c -> (2,0,-2).
    max_fails=0 never lowers it: the plain sequence a a b a c a a goes on.
    """
    alg = WeightedRoundRobin(hosts([5, 1, 1]), rng(), NginxParams(max_fails=2))
    assert letters(alg, 1) == "a"
    alg.on_complete(0, 0.01, CONN_ERROR)
    assert letters(alg, 4) == "baac"
    assert alg.current_weights() == [2, 0, -2]
    alg = WeightedRoundRobin(hosts([5, 1, 1]), rng(), NginxParams(max_fails=0))
    assert letters(alg, 1) == "a"
    alg.on_complete(0, 0.01, CONN_ERROR)
    assert letters(alg, 6) == "abacaa"
    with pytest.raises(ValidationError):
        NginxParams(max_fails=-1)


def test_swrr_failures_in_sixteenths_match_nginx_units() -> None:
    """Slow start keeps weights in sixteenths (weight_scale 16): 80, 16, 16 is
    5, 1, 1. A failure takes 16 · (5 // max_fails) and recovery adds 16 per
    pass, so the picks are those derived above for 5, 1, 1 and the current
    weights 16 times theirs. (Dropping 16 · 5 // 2 = 40 instead of 16 · (5 // 2)
    = 32 would give b a c; recovering by 1 instead of 16 would keep a out longer.)"""
    for max_fails, after, current in ((1, "bcbaa", [-3, 0, 3]), (2, "baac", [2, 0, -2])):
        backends = hosts([80, 16, 16])
        backends.weight_scale = 16
        alg = WeightedRoundRobin(backends, rng(), NginxParams(max_fails=max_fails))
        assert letters(alg, 1) == "a"
        alg.on_complete(0, 0.01, CONN_ERROR)
        assert letters(alg, len(after)) == after
        assert alg.current_weights() == [16 * c for c in current]


def test_swrr_retry_skips_tried_then_none() -> None:
    """Fresh 5,1,1, a tried: the pass covers b, c only: (·,1,1) total 2 -> b ->
    (0,-1,1), a untouched. Then 5,1,1 from (0,-1,1): (5,0,2) a; (3,1,3) a (tie:
    earlier); (1,2,4) c; (6,3,-2) a; (4,4,-1) a; (2,5,0) b; (7,-1,1) a -> (0,-1,1)."""
    alg = WeightedRoundRobin(hosts([5, 1, 1]), rng(), NginxParams())
    assert alg.pick(view(tried=(0,))) == 1
    assert alg.current_weights() == [0, -1, 1]
    assert letters(alg, 7) == "aacaaba"
    assert alg.pick(view(tried=(0, 1, 2))) is None  # NGINX: no live upstreams


# --------------------------------------------------------------------------
# least_connections: HAProxy leastconn. key = (inflight+1)·4096 // (16·weight), 0 idle


def lc(weights: list[int], version: str = "3.2", draws: tuple[float, ...] = ()) -> Any:
    backends = hosts(weights)
    alg = LeastConnections(backends, rng(draws=draws), LeastConnectionsParams(version=version))
    return alg, backends


def test_least_connections_default_is_haproxy_3_2() -> None:
    assert LeastConnectionsParams().version == "3.2"
    assert available()["least_connections"].params().version == "3.2"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        LeastConnectionsParams(version="2.8")  # type: ignore[arg-type]


def test_least_connections_3_1_idle_first_and_ties_round_robin() -> None:
    alg, backends = lc([1, 1, 1], "3.1")
    # all idle (key 0): queue order 0, 1, 2; each is re-queued when sent to.
    assert [pick_send(alg, backends) for _ in range(3)] == [0, 1, 2]
    # all at one in flight: key 2·4096//16 = 512 each, in the order they moved there.
    assert [pick_send(alg, backends) for _ in range(3)] == [0, 1, 2]
    complete(alg, backends, 1)  # 1 in flight again -> key 512, alone there (0, 2 at 768)
    assert pick_send(alg, backends) == 1
    complete(alg, backends, 2)
    complete(alg, backends, 2)  # idle -> key 0: first, however loaded the others
    assert pick_send(alg, backends) == 2


def test_least_connections_idle_beats_heavier_weight() -> None:
    alg, backends = lc([256, 1], "3.1")
    assert pick_send(alg, backends) == 0  # both idle: queue order
    # 0 now has key 2·4096 // (16·256) = 2 > 0: the idle weight-1 server comes first.
    assert pick_send(alg, backends) == 1


def integer_tie_trace(alg: Any, backends: HostSet) -> str:
    trace = [pick_send(alg, backends)]  # both idle -> a; a key 23
    trace.append(pick_send(alg, backends))  # b idle (0) -> b; b key 34
    trace.append(pick_send(alg, backends))  # a 23 < b 34 -> a; a key 34, behind b
    complete(alg, backends, 1)  # b idle -> key 0
    trace.append(pick_send(alg, backends))  # b; b key 34, now behind a
    trace.append(pick_send(alg, backends))  # a 34 (exact 34.9) ties b 34 (34.1): a, queued first
    trace.append(pick_send(alg, backends))  # a: 3 in flight -> 16384 // 352 = 46; b 34 -> b
    return "".join("ab"[i] for i in trace)


def test_least_connections_integer_keys_tie() -> None:
    """a: weight 22, b: weight 15. key = (inflight + 1) · 4096 // (16 · weight).
    a: 1 in flight -> 8192 // 352 = 23; 2 -> 12288 // 352 = 34; 3 -> 46.
    b: 1 in flight -> 8192 // 240 = 34. Exact ratios would prefer b at the 5th pick."""
    alg, backends = lc([22, 15], "3.1")
    assert integer_tie_trace(alg, backends) == "ababab"


def test_least_connections_slow_start_sixteenths_do_not_change_keys() -> None:
    """Under slow start the host set holds 16·weight (weight_scale 16): 352, 240
    are HAProxy's eweights, so the keys and the trace are those of 22, 15. Taken
    as uweights (eweight 16·352) the keys would be 8192 // 5632 = 1, 2, 2 for a
    and 2 for b, and the last pick would tie and go to a."""
    backends = hosts([352, 240])
    backends.weight_scale = 16
    alg = LeastConnections(backends, rng(), LeastConnectionsParams(version="3.1"))
    assert integer_tie_trace(alg, backends) == "ababab"


def test_least_connections_3_2_random_list_fifo_within() -> None:
    """Three weight-1 servers; draws u pick list int(4u) (one per queueing, one per pick).

    init (server order): s0 0.80 -> list 3, s1 0.10 -> list 0, s2 0.30 -> list 1
    pick  0.55 -> start list 2 (empty), list 3: s0.  send: s0 key 512, 0.95 -> list 3
    pick  0.30 -> list 1: s2.                         send: s2 key 512, 0.20 -> list 0
    pick  0.99 -> list 3 (empty at key 0), list 0: s1. send: s1 key 512, 0.45 -> list 1
    key 512 now: list 0 [s2], list 1 [s1], list 3 [s0]
    pick  0.75 -> list 3: s0.                         send: s0 key 768, 0.00 -> list 0
    s0 completes: key 512 again, 0.00 -> list 0, behind s2: list 0 [s2, s0]
    pick  0.10 -> list 0: s2 (first in).
    3.1 would give s0 s1 s2 s0 s1.
    """
    draws = (0.80, 0.10, 0.30, 0.55, 0.95, 0.30, 0.20, 0.99, 0.45, 0.75, 0.0, 0.0, 0.10)
    alg, backends = lc([1, 1, 1], "3.2", draws)
    trace = [pick_send(alg, backends) for _ in range(4)]
    complete(alg, backends, 0)
    trace.append(pick_send(alg, backends))
    assert trace == [0, 2, 1, 0, 2]


def test_least_connections_only_the_changed_server_moves() -> None:
    """3.1: s0, s1, s2 at key 512 in that order; s1 takes and drops a request:
    it moves (768, then 512 behind s0 and s2), the others keep their places."""
    alg, backends = lc([1, 1, 1], "3.1")
    assert [pick_send(alg, backends) for _ in range(3)] == [0, 1, 2]  # all at 512 in that order
    send(alg, backends, 1)
    complete(alg, backends, 1)
    assert [pick_send(alg, backends) for _ in range(3)] == [0, 2, 1]


def test_least_connections_weight_change_queues_anew() -> None:
    """3.1, all idle at key 0 in order s0, s1, s2. s0's weight changes:
    fwlc_update_server_weight dequeues it and queues it again, behind s1, s2
    (its key, 0, is unchanged)."""
    alg, backends = lc([1, 1, 1], "3.1")
    backends.set_weights({0: 2})
    assert [pick_send(alg, backends) for _ in range(3)] == [1, 2, 0]


def test_least_connections_retry_avoids_tried() -> None:
    """Outstanding 0, 0, 1 at start: s0, s1 at key 0 (in list 0 for 3.2: draws 0,
    0), s2 at 512.

    3.1 walks the tree in order: s0 tried -> s1. Everything tried -> the last
    server passed over, s2 (HAProxy returns ``avoided`` rather than none).
    3.2 looks only at list heads: key 0's lists are [s0, s1], [], [], []; its
    head s0 is tried, counted unusable; wrapping round, s0 again: 2 unusable =
    2 elements, so key 0 is done and key 512 gives s2, not s1.
    """
    for version, expected in (("3.1", 1), ("3.2", 2)):
        backends = hosts([1, 1, 1])
        backends.outstanding[2] = 1
        alg = LeastConnections(backends, rng(), LeastConnectionsParams(version=version))
        assert alg.pick(view(tried=(0,))) == expected, version
        assert alg.pick(view(tried=(0, 1, 2))) == 2, version
        assert alg.pick(view()) == 0, version


def test_least_connections_down_and_back() -> None:
    alg, backends = lc([1, 1, 1], "3.1")
    backends.update([False, True, True])
    assert [pick_send(alg, backends) for _ in range(4)] == [1, 2, 1, 2]
    complete(alg, backends, 1)  # hooks for a server out of the tree must not queue it
    send(alg, backends, 0)
    complete(alg, backends, 0)
    assert all(alg.pick(view()) != 0 for _ in range(5))
    backends.update([True, True, True])  # back, idle: key 0, first
    assert alg.pick(view()) == 0


# --------------------------------------------------------------------------
# nginx_least_conn: min conns/weight by cross multiplication, SWRR among ties


def test_nginx_least_conn_cross_multiplication_and_swrr_ties() -> None:
    """Weights a=1, b=2, c=4.

    conns 1, 2, 4: all ratios 1 (1·2 == 2·1, ...): tie over a, b, c, SWRR pass
      current (1, 2, 4), total 7 -> c -> (1, 2, -3)
    conns 1, 2, 5: c 5/4 > 1; tie a, b: (1+1, 2+2) = (2, 4) total 3 -> b -> (2, 1, -3)
    conns 3, 2, 4: a 3 > 1; tie b, c (first tied: b): (1+2, -3+4) = (3, 1), total 6
      -> b -> (2, -3, 1)
    conns 0, 1, 1: a alone at 0: a, and no current_weight moves.
    """
    backends = hosts([1, 2, 4])
    alg = NginxLeastConn(backends, rng(), NginxParams())
    for conns, expected, current in (
        ([1, 2, 4], 2, [1, 2, -3]),
        ([1, 2, 5], 1, [2, 1, -3]),
        ([3, 2, 4], 1, [2, -3, 1]),
        ([0, 1, 1], 0, [2, -3, 1]),
    ):
        backends.outstanding[:] = conns
        assert alg.pick(view()) == expected, conns
        assert alg._peers.current == current, conns


def test_nginx_least_conn_equal_weights_alternate() -> None:
    """Weights 1, 1, requests never complete: (0, 0) tie -> SWRR (1, 1) -> a
    (-1, 1); a busy -> b alone (no SWRR); (1, 1) tie -> (0, 2) -> b (0, 0); then
    a alone; tie (1, 1) -> a. So a b b a a."""
    backends = hosts([1, 1])
    alg = NginxLeastConn(backends, rng(), NginxParams())
    assert [pick_send(alg, backends) for _ in range(5)] == [0, 1, 1, 0, 0]


def test_nginx_least_conn_failure_lowers_effective_weight() -> None:
    """Weights 2, 2, idle. a fails: effective 2 - 2 = 0.
    tie: (0+0, 0+2) total 2 -> b -> (0, 0); eff a -> 1
    tie: (0+1, 0+2) total 3 -> b -> (1, -1); eff a -> 2
    tie: (1+2, -1+2) total 4 -> a -> (-1, 1). Without the failure: a b a."""
    backends = hosts([2, 2])
    alg = NginxLeastConn(backends, rng(), NginxParams())
    alg.on_complete(0, 0.01, CONN_ERROR)
    assert picks(alg, 3) == [1, 1, 0]
    alg = NginxLeastConn(hosts([2, 2]), rng(), NginxParams())
    assert picks(alg, 3) == [0, 1, 0]


def test_nginx_least_conn_retry_skips_tried_then_none() -> None:
    backends = hosts([1, 1, 1])
    backends.outstanding[:] = [0, 3, 1]
    alg = NginxLeastConn(backends, rng(), NginxParams())
    assert alg.pick(view(tried=(0,))) == 2  # 0 tried; 2 (1 conn) beats 1 (3)
    assert alg.pick(view(tried=(0, 2))) == 1
    assert alg.pick(view(tried=(0, 1, 2))) is None  # NGINX: no live upstreams
    backends.update([False, True, False])
    assert alg.pick(view()) == 1
