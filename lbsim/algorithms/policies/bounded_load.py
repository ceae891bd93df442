"""``hash_balance_factor``: consistent hashing with bounded loads (Envoy).

Envoy ``BoundedLoadHashingLoadBalancer`` (``source/extensions/
load_balancing_policies/common/thread_aware_lb_impl.cc``; Mirrokni, Thorup,
Zadimoghaddam, "Consistent Hashing with Bounded Loads", arXiv 1608.01350),
for ``ring_hash``, ``maglev`` (Envoy's ``consistent_hashing_lb_config.
hash_balance_factor``, at least 100) and, with the same rule, ``ketama``.

The ring or table picks host ``h`` for the request's hash as usual. With
``A`` the balancer's outstanding requests over all hosts and ``w`` a host's
normalised weight (over the available hosts), its capacity is::

    total_slots = ((A + 1) · factor + 99) // 100      # ceil(factor% of A + 1)
    slots       = max(ceil(total_slots · w), 1)
    overload    = active / slots

and ``h`` is kept if ``overload <= 1``. Otherwise the other hosts are
visited in a random order seeded by the request's hash, the same for the
same key (Envoy: ``std::mt19937`` seeded with the hash, i.e. its low 32 bits;
a Fisher-Yates shuffle drawing ``j`` in ``[0, n - i)`` as ``x = r // (2^32 //
k)``, rejecting ``x >= k``; here numpy's legacy ``RandomState``, the same
generator and seeding), and the first with ``overload <= 1`` is taken; if
none, the least overloaded (ties: the one met first, ``h`` included). The
hash is the one the ring uses: xxHash64 of the key text for ring hash and
Maglev, crc32 for ketama. On a retry, hosts already tried are passed over in
the walk (lbsim's retry model). ``A`` is kept as a running total (sends
and completions), recounted on host changes; under ``info_delay`` it is the
snapshot's total plus the sends and completions since. Without a factor the policy is exactly the
plain one (no wrapper). O(n) when a host is overloaded, as in Envoy.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostListener, HostSet, Request
from lbsim.algorithms.hashing import key_text, normalized_weights, xxh64
from lbsim.algorithms.ketama import Ketama, KetamaParams
from lbsim.algorithms.maglev import Maglev, MaglevParams
from lbsim.algorithms.ring_hash import RingHash, RingHashParams

if TYPE_CHECKING:
    import numpy as np

TWO_32 = 1 << 32


class BalanceFactor(base.Params):
    hash_balance_factor: int | None = Field(
        default=None,
        ge=100,
        description="bounded load: a host takes at most factor% of the mean load (Envoy; "
        "none: off)",
    )


class RingHashBoundedParams(RingHashParams, BalanceFactor):
    pass


class MaglevBoundedParams(MaglevParams, BalanceFactor):
    pass


class KetamaBoundedParams(KetamaParams, BalanceFactor):
    pass


class Mt19937Words:
    """The outputs of ``std::mt19937(seed)`` (seed taken modulo 2^32), in blocks."""

    __slots__ = ("_state", "words")

    def __init__(self, seed: int) -> None:
        import numpy as np

        self._state = np.random.RandomState(seed % TWO_32)
        self.words: list[int] = []

    def word(self, i: int) -> int:
        """The ``i``-th output (from 0)."""
        while i >= len(self.words):
            self.words.extend(self._state.randint(0, TWO_32, size=64, dtype="uint32").tolist())
        return self.words[i]


def mt19937_words(seed: int) -> Iterator[int]:
    """The outputs of ``std::mt19937(seed)`` one by one."""
    words = Mt19937Words(seed)
    return (words.word(i) for i in itertools.count())


class BoundedLoad(HostListener):
    """Wraps a hash policy: its pick, moved off a host over its bound.

    The available hosts, their normalised weights and the total outstanding
    count are kept up to date (on host changes, sends and completions), so a
    pick whose host is within its bound costs O(1); the generator of each
    request hash is remembered (up to ``MEMO`` of them), as the same key
    always walks the same way.
    """

    MEMO = 4096

    def __init__(
        self, inner: BaseAlgorithm, factor: int, request_hash: Callable[[int], int]
    ) -> None:
        self.inner = inner
        self.backends: HostSet = inner.backends
        self.factor = factor
        self._hash = request_hash
        self._words: dict[int, Mt19937Words] = {}
        self.hosts_changed()
        self.backends.subscribe(self)

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        backends = self.backends
        self._eligible = backends.eligible()
        weights = normalized_weights([backends.weights[i] for i in self._eligible])
        self._weights = dict(zip(self._eligible, weights, strict=True))
        self._total = sum(backends.outstanding)  # after a crash the counts were reset

    def overload(self, host: int, weight: float) -> float:
        """Envoy ``hostOverloadFactor``."""
        total_slots = ((self._total + 1) * self.factor + 99) // 100
        slots = max(math.ceil(total_slots * weight), 1)
        return self.backends.outstanding[host] / slots

    def pick(self, request: Request) -> int | None:
        host = self.inner.pick(request)
        if host is None or host not in self._weights:
            return host
        least = self.overload(host, self._weights[host])
        if least <= 1.0:
            return host
        return self._walk(host, least, request.tried, request.hash_key)

    def _walk(self, host: int, least: float, tried: Collection[int], key: int) -> int:
        seed = self._hash(key) % TWO_32
        words = self._words.get(seed)
        if words is None:
            if len(self._words) >= self.MEMO:
                self._words.clear()
            words = self._words[seed] = Mt19937Words(seed)
        order = list(self._eligible)
        best = host
        n = len(order)
        drawn = 0
        for i in range(n):
            k = n - i
            j = k
            while j >= k:  # Envoy's uniform_int: division, rejection
                j = words.word(drawn) // (TWO_32 // k)
                drawn += 1
            order[i], order[i + j] = order[i + j], order[i]
            alternative = order[i]
            if alternative == host or alternative in tried:
                continue
            factor = self.overload(alternative, self._weights[alternative])
            if factor <= 1.0:
                return alternative
            if factor < least:
                best, least = alternative, factor
        return best

    def on_send(self, host: int) -> None:
        self._total += 1
        self.inner.on_send(host)

    def on_complete(self, host: int, latency: float, status: int) -> None:
        self._total -= 1
        self.inner.on_complete(host, latency, status)


def _xxh(key: int) -> int:
    return xxh64(key_text(key))


def _crc(key: int) -> int:
    return zlib.crc32(key_text(key))


class _Bounded:
    """A registry factory: the hash policy, wrapped when a factor is set."""

    def __init__(self, cls: Any, params: type[BalanceFactor], request_hash: Callable[[int], int]):
        self.cls = cls
        self.Params = params
        self.request_hash = request_hash
        self.__doc__ = cls.__doc__

    def __call__(
        self, backends: HostSet, rng: np.random.Generator, params: base.Params
    ) -> BaseAlgorithm | BoundedLoad:
        assert isinstance(params, BalanceFactor)
        inner_params = self.cls.Params(**params.model_dump(exclude={"hash_balance_factor"}))
        inner = self.cls(backends, rng, inner_params)
        if params.hash_balance_factor is None:
            return inner
        return BoundedLoad(inner, params.hash_balance_factor, self.request_hash)


ring_hash = _Bounded(RingHash, RingHashBoundedParams, _xxh)
maglev = _Bounded(Maglev, MaglevBoundedParams, _xxh)
ketama = _Bounded(Ketama, KetamaBoundedParams, _crc)
