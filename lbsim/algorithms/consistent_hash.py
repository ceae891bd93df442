"""Consistent hashing of the client address: a ketama ring or a Maglev table.

Both map a client to a backend so that taking one backend away moves only the
clients it had (ring) or not many more (Maglev), where plain ``hash % n``
would move almost all of them.

**Ring** (``method: ring``) is NGINX ``hash $remote_addr consistent``
(``ngx_http_upstream_init_chash``, ``ngx_http_upstream_get_chash_peer`` in
``src/http/modules/ngx_http_upstream_hash_module.c``; "compatible with
Cache::Memcached::Fast"). Every backend, in configuration order, gets
``vnodes × weight`` points (NGINX: 160 × weight), chained::

    base    = bytes(host) + b"\\0" + bytes(port)
    prev    = 0
    point_j = crc32(base + prev.to_bytes(4, "little")); prev = point_j

NGINX splits the ``server`` text at its last ``:`` followed only by digits;
this model takes the backend name as the host and ``80`` as the port, as if
each were written ``server NAME:80``. So backend ``"s1"`` hashes
``b"s1\\x0080"`` followed by the four little-endian bytes of the previous
point. Points are sorted and a repeated hash value is kept once (NGINX's
``qsort`` leaves open which server keeps it; here the earlier backend does).
A request goes to the first point ``>= crc32(key)`` (wrapping to the first
point), where the key is ``$remote_addr``: the client address as dotted text,
e.g. ``b"10.1.2.3"``. If that point's backend is unavailable the next point
is tried; after 21 points (``tries > 20``) NGINX falls back to round robin
(smooth weighted round robin, as here); a single-backend upstream goes to
round robin at once. Unavailable backends keep their points: the ring is
rebuilt only when weights change. Lookup: binary search, O(log n).

**Maglev** (``method: maglev``) is Envoy's Maglev balancer
(``source/extensions/load_balancing_policies/maglev/maglev_lb.cc``, after the
Maglev paper, pseudocode listing 1). Available backends are sorted by name;
each gets ``offset = xxHash64(name, seed 0) % M`` and
``skip = xxHash64(name, seed 1) % (M - 1) + 1`` and claims, in turn, the
first free slot of its permutation ``(offset + skip·j) % M``. Weights: in
round ``r = 1, 2, …`` a backend takes a turn unless ``r · w < t``, where ``t``
grows by the largest weight each time it takes one; Envoy does this with
doubles on weights normalised to sum 1, here it is the same comparison in
exact integers. A request goes to ``table[xxHash64(address text) % M]``
(Envoy's ``SourceIpHashMethod``: ``xxHash64(addressAsString())``, seed 0).
The table holds available backends only and is rebuilt on every change
(Envoy's panic threshold is not modelled). Lookup O(1); building costs about
``M ln M`` steps of Python (a fraction of a second for ``M = 65537``).

Both cache the backend of each client address until the next ``hosts_changed``.
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_left
from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from lbsim.algorithms import base
from lbsim.algorithms.base import ROUND_ROBIN, BaseAlgorithm, HashMemo, HostSet, Params, Request
from lbsim.algorithms.weighted_round_robin import WeightedRoundRobin

MAX_TRIES = 20  # NGINX: round robin once tries > 20, i.e. after 21 unusable points
RING_PORT = b"80"
_LE32 = struct.Struct("<I")

_MASK64 = (1 << 64) - 1
_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK64


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * _P2) & _MASK64
    return (_rotl(acc, 31) * _P1) & _MASK64


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of ``data`` (the 64-bit xxHash that Envoy's ``HashUtil::xxHash64`` calls)."""
    n = len(data)
    p = 0
    if n >= 32:
        v1 = (seed + _P1 + _P2) & _MASK64
        v2 = (seed + _P2) & _MASK64
        v3 = seed & _MASK64
        v4 = (seed - _P1) & _MASK64
        while p + 32 <= n:
            a, b, c, d = struct.unpack_from("<4Q", data, p)
            v1, v2, v3, v4 = _round(v1, a), _round(v2, b), _round(v3, c), _round(v4, d)
            p += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _MASK64
        for v in (v1, v2, v3, v4):
            h = ((h ^ _round(0, v)) * _P1 + _P4) & _MASK64
    else:
        h = (seed + _P5) & _MASK64
    h = (h + n) & _MASK64
    while p + 8 <= n:
        (lane,) = struct.unpack_from("<Q", data, p)
        h = (_rotl(h ^ _round(0, lane), 27) * _P1 + _P4) & _MASK64
        p += 8
    if p + 4 <= n:
        (lane,) = struct.unpack_from("<I", data, p)
        h = (_rotl(h ^ ((lane * _P1) & _MASK64), 23) * _P2 + _P3) & _MASK64
        p += 4
    while p < n:
        h = (_rotl(h ^ ((data[p] * _P5) & _MASK64), 11) * _P1) & _MASK64
        p += 1
    h = ((h ^ (h >> 33)) * _P2) & _MASK64
    h = ((h ^ (h >> 29)) * _P3) & _MASK64
    return h ^ (h >> 32)


def dotted(key: int) -> bytes:
    """The IPv4 address ``key`` as NGINX's ``$remote_addr`` text, e.g. ``b"10.1.2.3"``."""
    return f"{key >> 24 & 255}.{key >> 16 & 255}.{key >> 8 & 255}.{key & 255}".encode()


def ketama_points(name: str, count: int, port: bytes = RING_PORT) -> list[int]:
    """The ``count`` ring points of the server ``name:port``, in the order NGINX makes them."""
    base = zlib.crc32(name.encode() + b"\0" + port)
    points = []
    prev = 0
    for _ in range(count):
        prev = zlib.crc32(_LE32.pack(prev), base)  # crc32(base ‖ prev), continued
        points.append(prev)
    return points


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def maglev_table(names: list[str], weights: list[int], size: int) -> list[int]:
    """Envoy's Maglev table: for each slot, an index into ``names`` (which must be unique)."""
    if not names:
        return []
    if len(names) > size:
        raise ValueError(f"maglev table_size {size} is smaller than the {len(names)} backends")
    order = sorted(range(len(names)), key=lambda i: names[i].encode())
    keys = [names[i].encode() for i in order]
    slot = [xxh64(k, 0) % size for k in keys]  # current position of each permutation
    skip = [xxh64(k, 1) % (size - 1) + 1 if size > 1 else 1 for k in keys]
    weight = [weights[i] for i in order]
    heaviest = max(weight)
    target = [0] * len(order)
    table = [-1] * size
    filled = 0
    iteration = 1
    while filled < size:
        for j in range(len(order)):
            if iteration * weight[j] < target[j]:
                continue
            target[j] += heaviest
            c, step = slot[j], skip[j]
            while table[c] >= 0:
                c += step
                if c >= size:
                    c -= size
            table[c] = order[j]
            c += step
            slot[j] = c - size if c >= size else c
            filled += 1
            if filled == size:
                break
        iteration += 1
    return table


class ConsistentHashParams(Params):
    method: Literal["ring", "maglev"] = Field(
        default="ring", description="ring: NGINX hash consistent (ketama); maglev: Envoy Maglev"
    )
    vnodes: int = Field(
        default=160, ge=1, le=10_000, description="ring points per unit of weight (NGINX: 160)"
    )
    table_size: int = Field(
        default=65537,
        ge=2,
        le=10_000_019,
        description="Maglev lookup table size, a prime (Envoy default 65537)",
    )

    @field_validator("table_size")
    @classmethod
    def _prime(cls, value: int) -> int:
        if not is_prime(value):
            raise ValueError(f"table_size must be a prime number, not {value}")
        return value


class ConsistentHash(BaseAlgorithm):
    """Client address on a consistent-hash ring (NGINX ketama) or Maglev table (Envoy)."""

    name: ClassVar[str] = "consistent_hash"
    Params = ConsistentHashParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, ConsistentHashParams)
        self._method = params.method
        self._vnodes = params.vnodes
        self._size = params.table_size
        self._round_robin = WeightedRoundRobin(backends, rng, Params())
        self._ring_weights: list[int] | None = None
        self._hashes: list[int] = []
        self._owners: list[int] = []
        self._table: list[int] = []
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._memo = HashMemo()
        backends = self.backends
        if self._method == "maglev":
            eligible = backends.eligible()
            table = maglev_table(
                [backends.names[i] for i in eligible],
                [backends.weights[i] for i in eligible],
                self._size,
            )
            self._table = [eligible[i] for i in table]
            return
        self._round_robin.hosts_changed()
        if self._ring_weights != backends.weights:
            self._ring_weights = list(backends.weights)
            self._build_ring()

    def _build_ring(self) -> None:
        points: list[tuple[int, int]] = []
        for backend, (name, weight) in enumerate(
            zip(self.backends.names, self.backends.weights, strict=True)
        ):
            points.extend((point, backend) for point in ketama_points(name, self._vnodes * weight))
        points.sort()
        hashes: list[int] = []
        owners: list[int] = []
        for point, backend in points:
            if not hashes or hashes[-1] != point:
                hashes.append(point)
                owners.append(backend)
        self._hashes, self._owners = hashes, owners

    def _ring_lookup(self, key: int) -> int:
        """The backend NGINX's consistent hash settles on, or ``ROUND_ROBIN``."""
        available = self.backends.available
        if len(available) < 2:
            return ROUND_ROBIN
        hashes, owners = self._hashes, self._owners
        start = bisect_left(hashes, zlib.crc32(dotted(key)))
        n = len(hashes)
        for attempt in range(min(MAX_TRIES + 1, n)):
            backend = owners[(start + attempt) % n]
            if available[backend]:
                return backend
        return ROUND_ROBIN

    def _maglev_lookup(self, key: int) -> int:
        return self._table[xxh64(dotted(key)) % len(self._table)]

    def pick(self, request: Request) -> int | None:
        key = request.hash_key
        if self._method == "maglev":
            return self._memo.get(key, self._maglev_lookup, key) if self._table else None
        backend = self._memo.get(key, self._ring_lookup, key)
        return self._round_robin.pick(request) if backend == ROUND_ROBIN else backend
