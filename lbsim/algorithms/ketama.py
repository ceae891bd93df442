"""NGINX ``hash $remote_addr consistent``: a ketama ring of crc32 points.

``ngx_http_upstream_init_chash`` and ``ngx_http_upstream_get_chash_peer``
(``src/http/modules/ngx_http_upstream_hash_module.c``; "compatible with
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
point), where the key is the request's ``hash_key`` as text
(:func:`~lbsim.algorithms.hashing.key_text`: the client address gives
``$remote_addr``, e.g. ``b"10.1.2.3"``). If that point's backend is
unavailable, or already tried for this request, the next point is examined;
each point passed counts one try, across all attempts of the request (NGINX
keeps ``hp->hash`` and ``hp->tries`` per request and resumes a retry *at*
the point it stopped, whose server is now tried). After 21 points
(``tries > 20``) NGINX falls back to round robin (smooth weighted round robin,
as here); a single-backend upstream goes to round robin at once. This model
recomputes the walk from the start for each attempt instead of storing it,
which passes the same points as long as availability did not change between
the attempts. Unavailable backends keep their points: the ring is rebuilt
only when weights change. Lookup: binary search, O(log n); the first
attempt's answer per key is cached until the hosts change.
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_left
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import ROUND_ROBIN, BaseAlgorithm, HashMemo, HostSet, Params, Request
from lbsim.algorithms.hashing import key_text
from lbsim.algorithms.weighted_round_robin import WeightedRoundRobin

if TYPE_CHECKING:
    import numpy as np

MAX_TRIES = 20  # NGINX: round robin once tries > 20, i.e. after 21 unusable points
RING_PORT = b"80"
_LE32 = struct.Struct("<I")


def ketama_points(name: str, count: int, port: bytes = RING_PORT) -> list[int]:
    """The ``count`` ring points of the server ``name:port``, in the order NGINX makes them."""
    base_crc = zlib.crc32(name.encode() + b"\0" + port)
    points = []
    prev = 0
    for _ in range(count):
        prev = zlib.crc32(_LE32.pack(prev), base_crc)  # crc32(base ‖ prev), continued
        points.append(prev)
    return points


class KetamaParams(Params):
    vnodes: int = Field(
        default=160, ge=1, le=10_000, description="ring points per unit of weight (NGINX: 160)"
    )


class Ketama(BaseAlgorithm):
    """NGINX hash consistent (ketama): crc32 ring, 160 points per weight."""

    name: ClassVar[str] = "ketama"
    Params = KetamaParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, KetamaParams)
        self._vnodes = params.vnodes
        # its fallback; it subscribes to the host set itself
        self._round_robin = WeightedRoundRobin(backends, rng, Params())
        self._ring_weights: list[int] | None = None
        self._hashes: list[int] = []
        self._owners: list[int] = []
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._memo = HashMemo()
        if self._ring_weights != self.backends.weights:
            self._ring_weights = list(self.backends.weights)
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

    def _walk(self, key: int, tried: Collection[int]) -> int:
        """The backend NGINX's consistent hash settles on, or ``ROUND_ROBIN``."""
        available = self.backends.available
        if len(available) < 2:
            return ROUND_ROBIN
        hashes, owners = self._hashes, self._owners
        start = bisect_left(hashes, zlib.crc32(key_text(key)))
        n = len(hashes)
        for step in range(min(MAX_TRIES + 1, n)):  # beyond n points the walk repeats itself
            backend = owners[(start + step) % n]
            if available[backend] and backend not in tried:
                return backend
        return ROUND_ROBIN

    def _first(self, key: int) -> int:
        return self._walk(key, ())

    def pick(self, request: Request) -> int | None:
        key = request.hash_key
        tried = request.tried
        backend = self._walk(key, tried) if tried else self._memo.get(key, self._first, key)
        return self._round_robin.pick(request) if backend == ROUND_ROBIN else backend
