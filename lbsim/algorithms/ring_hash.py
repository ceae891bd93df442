"""Envoy's ring hash balancer: a ketama-style ring of xxHash64 points.

``source/extensions/load_balancing_policies/ring_hash/ring_hash_lb.cc``
(``Ring::Ring``, ``Ring::chooseHost``), on the weights of
``normalizeHostWeights`` (``common/thread_aware_lb_impl.cc``). The ring holds
the available hosts, in host-set order, with normalised weights
``w_i = weight_i / Σ weight`` (doubles). With ``m`` the smallest ``w_i``::

    scale = min(ceil(m · minimum_ring_size) / m, maximum_ring_size)
    current = target = 0.0
    for each host:
        target += scale · w_i
        j = 0
        while current < target:
            point = xxHash64(f"{name}_{j}", seed 0); j += 1; current += 1

so the least-weighted host gets a whole number of points (``ceil(m · 1024)``
by default) and the others ``scale · w_i``, rounded by the running sums.
Envoy hashes the host's address (``ip:port``), or its hostname with
``use_hostname_for_hashing``; lbsim hashes the backend name, i.e. the
hostname variant. Points are sorted by hash. A request with hash ``h =
xxHash64(key_text(hash_key))`` (Envoy's ``source_ip`` hash policy:
``xxHash64(addressAsString())``) goes to the first point with hash ``>= h``,
wrapping to the first point (the ketama binary search of ``chooseHost``).

Retries: Envoy's ``chooseHost(h, attempt)`` moves ``attempt`` points along
the ring, but only inside the host-selection loop that a retry host
predicate (``previous_hosts``) and ``host_selection_retry_max_attempts``
switch on; without them a retry hashes to the same host. lbsim models the
predicate with unlimited selection attempts: a retry walks the ring from the
request's point and takes the first point whose host is not in
``request.tried``. When every host on the ring was tried it returns None
(Envoy would resend to a tried host once its selection attempts run out).
The ring is rebuilt on every change of availability or weight (Envoy
rebuilds from the healthy hosts; its panic mode is the balancer's job here).
Lookup: binary search, O(log n); the first attempt's answer per key is
cached until the hosts change.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, model_validator

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HashMemo, HostSet, Params, Request
from lbsim.algorithms.hashing import key_text, normalized_weights, xxh64

if TYPE_CHECKING:
    import numpy as np

MAX_RING_SIZE = 8 * 1024 * 1024  # Envoy's limit (and default maximum_ring_size)
_NONE = -1  # memo value: no host


def ring_hash_ring(
    names: Sequence[str], weights: Sequence[int], minimum: int, maximum: int
) -> list[tuple[int, int]]:
    """Envoy's ring as sorted ``(hash, index into names)`` pairs."""
    if not names:
        return []
    normalized = normalized_weights(weights)
    lowest = min(normalized)
    scale = min(math.ceil(lowest * minimum) / lowest, float(maximum))
    ring: list[tuple[int, int]] = []
    current = target = 0.0
    for index, (name, weight) in enumerate(zip(names, normalized, strict=True)):
        prefix = name.encode() + b"_"
        target += scale * weight
        j = 0
        while current < target:
            ring.append((xxh64(prefix + str(j).encode()), index))
            j += 1
            current += 1.0
    ring.sort()
    return ring


class RingHashParams(Params):
    minimum_ring_size: int = Field(
        default=1024, ge=1, le=MAX_RING_SIZE, description="Envoy minimum_ring_size (default 1024)"
    )
    maximum_ring_size: int = Field(
        default=MAX_RING_SIZE,
        ge=1,
        le=MAX_RING_SIZE,
        description="Envoy maximum_ring_size (default and limit 8M)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RingHashParams:
        if self.minimum_ring_size > self.maximum_ring_size:
            raise ValueError(
                f"minimum_ring_size ({self.minimum_ring_size}) > "
                f"maximum_ring_size ({self.maximum_ring_size})"
            )
        return self


class RingHash(BaseAlgorithm):
    """Envoy ring hash: xxHash64 ring, at least 1024 points, of the hash key."""

    name: ClassVar[str] = "ring_hash"
    Params = RingHashParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, RingHashParams)
        self._minimum = params.minimum_ring_size
        self._maximum = params.maximum_ring_size
        self._hashes: list[int] = []
        self._owners: list[int] = []
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._memo = HashMemo()
        backends = self.backends
        eligible = backends.eligible()
        ring = ring_hash_ring(
            [backends.names[i] for i in eligible],
            [backends.weights[i] for i in eligible],
            self._minimum,
            self._maximum,
        )
        self._hashes = [h for h, _ in ring]
        self._owners = [eligible[i] for _, i in ring]

    def _walk(self, key: int, tried: Collection[int]) -> int:
        hashes, owners = self._hashes, self._owners
        n = len(hashes)
        if not n:
            return _NONE
        start = bisect_left(hashes, xxh64(key_text(key)))
        for step in range(n):
            backend = owners[(start + step) % n]
            if backend not in tried:
                return backend
        return _NONE

    def _first(self, key: int) -> int:
        return self._walk(key, ())

    def pick(self, request: Request) -> int | None:
        key = request.hash_key
        tried = request.tried
        backend = self._walk(key, tried) if tried else self._memo.get(key, self._first, key)
        return None if backend == _NONE else backend
