"""Envoy's Maglev balancer: a lookup table of prime size filled by permutations.

``source/extensions/load_balancing_policies/maglev/maglev_lb.cc``
(``constructMaglevTableInternal``, ``OriginalMaglevTable``, after the Maglev
paper's pseudocode listing 1). The available hosts are sorted by name; each
gets ``offset = xxHash64(name, seed 0) % M`` and ``skip = xxHash64(name,
seed 1) % (M - 1) + 1`` (M = ``table_size``, a prime, 65537 by default) and,
in its turns, claims the first free slot of its permutation ``(offset +
skip·next) % M``. Weights are Envoy's normalised doubles ``w_i = weight_i /
Σ weight`` (``normalizeHostWeights``, ``common/thread_aware_lb_impl.cc``): in
round ``r = 1, 2, …`` a host takes a turn unless ``r · w_i < t_i``, and
``t_i`` (from 0.0) grows by the largest ``w_i`` each time it takes one. Both
sides are doubles, as in Envoy; an exact integer version of the same test
fills a few slots differently for unequal weights. Envoy hashes the host
address, or its hostname with ``use_hostname_for_hashing``; lbsim hashes the
backend name (the hostname variant).

A request with hash ``h = xxHash64(key_text(hash_key))`` (Envoy's
``source_ip`` hash policy) goes to ``table[h % M]``. Retries: inside the
host-selection loop of a ``previous_hosts`` retry predicate, Envoy's
``chooseHost(h, i)`` for selection attempt ``i ≥ 1`` looks up ``h ^ (2^64 -
i)`` (``hash ^= ~0ULL - attempt + 1``); without a predicate a retry goes to
the same host. lbsim models the predicate with unlimited selection attempts:
``i = 0, 1, 2, …`` until the slot's host is not in ``request.tried``; when
every host in the table was tried it returns None (Envoy would resend to a
tried host once its attempts run out). The table is rebuilt on every change
(Envoy rebuilds from the healthy hosts; panic is the balancer's job here).
Lookup O(1), cached per key for first attempts; building costs about
``M ln M`` steps of Python (a fraction of a second for ``M = 65537``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, field_validator

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HashMemo, HostSet, Params, Request
from lbsim.algorithms.hashing import is_prime, key_text, normalized_weights, xxh64

if TYPE_CHECKING:
    import numpy as np

_NONE = -1  # memo value: no host


def maglev_table(names: list[str], weights: list[int], size: int) -> list[int]:
    """Envoy's Maglev table: for each slot, an index into ``names`` (which must be unique)."""
    if not names:
        return []
    if len(names) > size:
        raise ValueError(f"maglev table_size {size} is smaller than the {len(names)} backends")
    order = sorted(range(len(names)), key=lambda i: names[i].encode())
    keys = [names[i].encode() for i in order]
    slot = [xxh64(k, 0) % size for k in keys]  # current position of each permutation
    skip = [xxh64(k, 1) % (size - 1) + 1 for k in keys]
    normalized = normalized_weights(weights)
    weight = [normalized[i] for i in order]
    heaviest = max(weight)
    target = [0.0] * len(order)
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


class MaglevParams(Params):
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


class Maglev(BaseAlgorithm):
    """Envoy Maglev: table of 65537 slots, double-weighted turns, of the hash key."""

    name: ClassVar[str] = "maglev"
    Params = MaglevParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, MaglevParams)
        self._size = params.table_size
        self._table: list[int] = []
        self._hosts: set[int] = set()
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._memo = HashMemo()
        backends = self.backends
        eligible = backends.eligible()
        table = maglev_table(
            [backends.names[i] for i in eligible],
            [backends.weights[i] for i in eligible],
            self._size,
        )
        self._table = [eligible[i] for i in table]
        self._hosts = set(self._table)  # a very light host may own no slot

    def _walk(self, key: int, tried: Collection[int]) -> int:
        table = self._table
        if not table or self._hosts.issubset(tried):
            return _NONE
        h = probe = xxh64(key_text(key))
        # some untried host owns a slot, so this ends (each probe misses with
        # probability at most the tried hosts' share of the table)
        attempt = 0
        while table[probe % self._size] in tried:
            attempt += 1
            probe = h ^ ((1 << 64) - attempt)  # Envoy: hash ^= ~0ULL - attempt + 1
        return table[probe % self._size]

    def _first(self, key: int) -> int:
        return self._walk(key, ())

    def pick(self, request: Request) -> int | None:
        key = request.hash_key
        tried = request.tried
        backend = self._walk(key, tried) if tried else self._memo.get(key, self._first, key)
        return None if backend == _NONE else backend
