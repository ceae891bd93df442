"""Golden sequences: every built-in algorithm against the real system's rule.

Each expectation is worked out by hand from the rule (NGINX, HAProxy, Envoy
source; see shared/reference/lb-semantics.md beside the project), not
recorded from the code. Requests are driven the way the balancer does it: ``outstanding[b]``
is incremented before ``on_send(b)`` and decremented before
``on_complete(b, latency, OK)``.
"""

from __future__ import annotations

import ctypes
import random as pyrandom
import zlib
from bisect import bisect_left
from collections import Counter
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

import lbsim.algorithms.weighted_round_robin as wrr_module
from lbsim.algorithms.base import HostSet, Params, RequestView
from lbsim.algorithms.consistent_hash import (
    ConsistentHash,
    ConsistentHashParams,
    ketama_points,
    maglev_table,
    xxh64,
)
from lbsim.algorithms.ip_hash import IpHash
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


# --------------------------------------------------------------------------
# ip_hash: NGINX, first three octets, h = (h * 113 + octet) % 6271 from h = 89


def test_ip_hash_hand_computed_hash() -> None:
    # 192.168.1.77: octets 192, 168, 1 (the 77 is ignored)
    #   h = (89 * 113 + 192) % 6271   = 10249 % 6271  = 3978
    #   h = (3978 * 113 + 168) % 6271 = 449682 % 6271 = 4441   (6271 * 71 = 445241)
    #   h = (4441 * 113 + 1) % 6271   = 501834 % 6271 = 154    (6271 * 80 = 501680)
    # weights 1, 1, 1: w = 154 % 3 = 1 -> backend 1
    # weights 5, 1, 4: w = 154 % 10 = 4 -> 4 < 5 -> backend 0
    # weights 2, 3, 5: w = 4 -> 4 >= 2, w = 2 -> 2 < 3 -> backend 1
    key = ip(192, 168, 1, 77)
    assert IpHash(make_backends([1, 1, 1]), RNG, Params()).pick(RequestView(key)) == 1
    assert IpHash(make_backends([5, 1, 4]), RNG, Params()).pick(RequestView(key)) == 0
    assert IpHash(make_backends([2, 3, 5]), RNG, Params()).pick(RequestView(key)) == 1


def test_ip_hash_whole_slash_24_sticks_to_one_backend() -> None:
    alg = IpHash(make_backends([1] * 7), RNG, Params())
    for prefix in [(10, 0, 0), (192, 168, 1), (172, 16, 254)]:
        assert len({alg.pick(RequestView(ip(*prefix, d))) for d in range(256)}) == 1
    # ... while different /24s spread over the backends
    assert len({alg.pick(RequestView(ip(10, 0, c, 1))) for c in range(256)}) == 7


def test_ip_hash_rehashes_from_current_h_when_peer_down() -> None:
    # 192.168.1.77 lands on backend 1 (h = 154, see above). With it down, NGINX goes
    # round again from h = 154:
    #   h = (154 * 113 + 192) % 6271  = 17594 % 6271  = 5052
    #   h = (5052 * 113 + 168) % 6271 = 571044 % 6271 = 383    (6271 * 91 = 570661)
    #   h = (383 * 113 + 1) % 6271    = 43280 % 6271  = 5654   (6271 * 6 = 37626)
    # w = 5654 % 3 = 2 -> backend 2 (not h = 89 again, which would give 1 forever)
    key = ip(192, 168, 1, 77)
    backends = make_backends([1, 1, 1])
    alg = IpHash(backends, RNG, Params())
    assert alg.pick(RequestView(key)) == 1
    backends.available[1] = False
    alg.hosts_changed(range(len(alg.backends)))
    assert alg.pick(RequestView(key)) == 2
    # With 2 down as well:
    # third round: (5654*113+192) % 6271 = 5723; (5723*113+168) % 6271 = 954;
    #   (954*113+1) % 6271 = 1196; 1196 % 3 = 2 -> backend 2, down again;
    # fourth round: (1196*113+192) % 6271 = 135340 % 6271 = 3649   (6271 * 21 = 131691)
    #   (3649*113+168) % 6271 = 412505 % 6271 = 4890                (6271 * 65 = 407615)
    #   (4890*113+1) % 6271   = 552571 % 6271 = 723                 (6271 * 88 = 551848)
    #   723 % 3 = 0 -> backend 0.
    backends.available[2] = False
    alg.hosts_changed(range(len(alg.backends)))
    assert alg.pick(RequestView(key)) == 0
    backends.available[1] = backends.available[2] = True
    alg.hosts_changed(range(len(alg.backends)))
    assert alg.pick(RequestView(key)) == 1  # mapping restored: the total weight never changed


def test_ip_hash_round_robin_after_21_tries() -> None:
    # total weight 6273 > 6270 >= h, so w = h always falls in backend 0's range [0, 6271).
    # With backend 0 down all 21 tries fail and NGINX falls back to (smooth weighted)
    # round robin over the rest: 1, 2, 1, 2 for the same client.
    backends = make_backends([6271, 1, 1])
    alg = IpHash(backends, RNG, Params())
    key = ip(8, 8, 4, 4)
    assert alg.pick(RequestView(key)) == 0
    backends.available[0] = False
    alg.hosts_changed(range(len(alg.backends)))
    assert [alg.pick(RequestView(key)) for _ in range(4)] == [1, 2, 1, 2]


def test_ip_hash_single_peer_is_round_robin() -> None:
    backends = make_backends([3])
    alg = IpHash(backends, RNG, Params())
    assert alg.pick(RequestView(ip(1, 2, 3, 4))) == 0
    backends.available[0] = False
    alg.hosts_changed(range(len(alg.backends)))
    assert alg.pick(RequestView(ip(1, 2, 3, 4))) is None


# --------------------------------------------------------------------------
# consistent_hash, ring: NGINX hash $remote_addr consistent (ketama)


def test_ketama_points_byte_layout() -> None:
    # server "s1:80": base = b"s1" b"\0" b"80"; point_j = crc32(base + prev as LE u32)
    p0 = zlib.crc32(b"s1\x0080" + (0).to_bytes(4, "little"))
    p1 = zlib.crc32(b"s1\x0080" + p0.to_bytes(4, "little"))
    p2 = zlib.crc32(b"s1\x0080" + p1.to_bytes(4, "little"))
    assert ketama_points("s1", 3) == [p0, p1, p2]
    assert ketama_points("s1", 2, port=b"") == [
        zlib.crc32(b"s1\x00\x00\x00\x00\x00"),
        zlib.crc32(b"s1\x00" + zlib.crc32(b"s1\x00\x00\x00\x00\x00").to_bytes(4, "little")),
    ]


def ring_reference(names: list[str], weights: list[int], vnodes: int) -> list[tuple[int, int]]:
    points = sorted(
        (point, i)
        for i, (name, weight) in enumerate(zip(names, weights, strict=True))
        for point in ketama_points(name, vnodes * weight)
    )
    return points


def test_ring_lookup_first_point_at_or_after_key_hash() -> None:
    names = ["alpha", "beta", "gamma"]
    weights = [1, 2, 1]
    backends = make_backends(weights, names)
    alg = ConsistentHash(backends, RNG, ConsistentHashParams(method="ring", vnodes=4))
    points = ring_reference(names, weights, 4)
    assert len(points) == 16
    for key in [ip(10, 1, 2, 3), ip(192, 168, 0, 1), ip(255, 255, 255, 255), ip(1, 0, 0, 0)]:
        text = ".".join(str(key >> s & 255) for s in (24, 16, 8, 0)).encode()
        h = zlib.crc32(text)
        owner = next((i for point, i in points if point >= h), points[0][1])  # wraps
        assert alg.pick(RequestView(key)) == owner, text


def test_ring_moves_to_next_point_when_down() -> None:
    names = ["alpha", "beta", "gamma", "delta"]
    backends = make_backends([1, 1, 1, 1], names)
    alg = ConsistentHash(backends, RNG, ConsistentHashParams(method="ring", vnodes=3))
    points = ring_reference(names, [1, 1, 1, 1], 3)
    key = ip(10, 1, 2, 3)
    h = zlib.crc32(b"10.1.2.3")
    start = next((j for j, (point, _) in enumerate(points) if point >= h), 0)
    first = points[start][1]
    assert alg.pick(RequestView(key)) == first
    backends.available[first] = False
    alg.hosts_changed(range(len(alg.backends)))
    following = [points[(start + j) % len(points)][1] for j in range(1, len(points))]
    assert alg.pick(RequestView(key)) == next(i for i in following if i != first)


def test_ring_round_robin_after_21_points() -> None:
    # one backend owns almost the whole ring: for a client whose next 21 points all
    # belong to it, taking it down makes NGINX fall back to round robin over the others.
    backends = make_backends([200, 1, 1])
    alg = ConsistentHash(backends, RNG, ConsistentHashParams(method="ring", vnodes=160))
    points = ring_reference(backends.names, backends.weights, 160)
    hashes = [point for point, _ in points]
    owners = [i for _, i in points]

    def next_21_owners(c: int) -> set[int]:
        start = bisect_left(hashes, zlib.crc32(f"10.0.{c}.7".encode()))
        return {owners[(start + j) % len(owners)] for j in range(21)}

    c = next(c for c in range(256) if next_21_owners(c) == {0})
    key = ip(10, 0, c, 7)
    assert alg.pick(RequestView(key)) == 0
    backends.available[0] = False
    alg.hosts_changed(range(len(alg.backends)))
    assert [alg.pick(RequestView(key)) for _ in range(4)] == [1, 2, 1, 2]


def test_ring_removing_one_of_n_moves_only_its_keys() -> None:
    n = 10
    backends = make_backends([1] * n)
    alg = ConsistentHash(backends, RNG, ConsistentHashParams(method="ring"))
    keys = np.random.default_rng(3).integers(0, 2**32, 20_000).tolist()
    before = [alg.pick(RequestView(k)) for k in keys]
    backends.available[3] = False
    alg.hosts_changed(range(len(alg.backends)))
    after = [alg.pick(RequestView(k)) for k in keys]
    moved = [k for k, b, a in zip(keys, before, after, strict=True) if b != a]
    assert all(b == 3 for b, a in zip(before, after, strict=True) if b != a)
    assert all(a != 3 for a in after)
    # about 1/n of the keys: with 160 points per server a share stays within ±30 % of 1/n
    assert 0.7 / n < len(moved) / len(keys) < 1.3 / n
    backends.available[3] = True
    alg.hosts_changed(range(len(alg.backends)))
    assert [alg.pick(RequestView(k)) for k in keys] == before


# --------------------------------------------------------------------------
# consistent_hash, maglev: Envoy Maglev (paper listing 1), xxHash64


def test_xxh64_known_values() -> None:
    # published XXH64 test values (seed 0)
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"abc") == 0x44BC2CF5AD770999
    try:
        lib = ctypes.CDLL("libxxhash.so.0")
    except OSError:
        return
    lib.XXH64.restype = ctypes.c_uint64
    lib.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    r = pyrandom.Random(1)
    for size in [*range(0, 70), 100, 257]:
        data = bytes(r.getrandbits(8) for _ in range(size))
        for seed in (0, 1, 2**64 - 1):
            assert xxh64(data, seed) == lib.XXH64(data, size, seed)


def maglev_reference(names: list[str], size: int) -> list[int]:
    """Maglev paper, pseudocode listing 1 (equal weights), with Envoy's hashes."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    offset = [xxh64(names[i].encode(), 0) % size for i in order]
    skip = [xxh64(names[i].encode(), 1) % (size - 1) + 1 for i in order]
    nxt = [0] * len(order)
    entry = [-1] * size
    filled = 0
    while True:
        for j, backend in enumerate(order):
            c = (offset[j] + nxt[j] * skip[j]) % size
            while entry[c] >= 0:
                nxt[j] += 1
                c = (offset[j] + nxt[j] * skip[j]) % size
            entry[c] = backend
            nxt[j] += 1
            filled += 1
            if filled == size:
                return entry


@pytest.mark.parametrize("size", [7, 13, 65537])
def test_maglev_table_matches_paper(size: int) -> None:
    names = ["web-3", "web-1", "web-2"]
    assert maglev_table(names, [1, 1, 1], size) == maglev_reference(names, size)


def test_maglev_weights_and_balance() -> None:
    weights = [1, 2, 3, 4, 5, 6, 7, 256]
    table = maglev_table([f"s{i}" for i in range(8)], weights, 65537)
    counts = Counter(table)
    total = sum(weights)
    # each round hands out at most one slot per backend, in proportion to weight,
    # so every backend ends within a few slots of its share
    for i, w in enumerate(weights):
        assert abs(counts[i] - 65537 * w / total) <= len(weights)
    equal = Counter(maglev_table([f"s{i}" for i in range(10)], [1] * 10, 65537))
    assert max(equal.values()) - min(equal.values()) <= 1


def test_maglev_lookup_is_table_at_xxhash_of_address() -> None:
    backends = make_backends([1, 1, 1], ["web-1", "web-2", "web-3"])
    alg = ConsistentHash(backends, RNG, ConsistentHashParams(method="maglev", table_size=13))
    table = maglev_reference(backends.names, 13)
    for key, text in [(ip(10, 1, 2, 3), b"10.1.2.3"), (ip(192, 168, 7, 1), b"192.168.7.1")]:
        assert alg.pick(RequestView(key)) == table[xxh64(text) % 13]


def test_maglev_removing_one_of_n_moves_a_bounded_fraction() -> None:
    n = 10
    backends = make_backends([1] * n)
    alg = ConsistentHash(backends, RNG, ConsistentHashParams(method="maglev"))
    keys = np.random.default_rng(4).integers(0, 2**32, 20_000).tolist()
    before = [alg.pick(RequestView(k)) for k in keys]
    backends.available[3] = False
    alg.hosts_changed(range(len(alg.backends)))
    after = [alg.pick(RequestView(k)) for k in keys]
    assert all(a != 3 for a in after)
    assert all(a != b for b, a in zip(before, after, strict=True) if b == 3)
    moved = sum(b != a for b, a in zip(before, after, strict=True))
    # the removed backend's 1/n plus Maglev's small disruption of the others
    assert moved / len(keys) < 1.5 / n
    backends.available[3] = True
    alg.hosts_changed(range(len(alg.backends)))
    assert [alg.pick(RequestView(k)) for k in keys] == before


def test_consistent_hash_params_validation() -> None:
    assert ConsistentHashParams().method == "ring"
    assert ConsistentHashParams().vnodes == 160
    assert ConsistentHashParams().table_size == 65537
    with pytest.raises(ValidationError):
        ConsistentHashParams(table_size=65536)
    with pytest.raises(ValidationError):
        ConsistentHashParams(method="rendezvous")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ConsistentHashParams(vnodes=0)
