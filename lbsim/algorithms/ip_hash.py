"""Client-address hashing, exactly as NGINX ``ip_hash`` does it.

NGINX ``ngx_http_upstream_get_ip_hash_peer``
(``src/http/modules/ngx_http_upstream_ip_hash_module.c``) hashes only the
first three octets of an IPv4 address, so every client of a /24 goes to the
same server::

    h = 89                                  # per request
    loop:
        for b in (o1, o2, o3):              # the address's first 3 octets
            h = (h * 113 + b) % 6271
        w = h % total_weight                # total over *all* peers, down ones too
        walk peers in configuration order, subtracting weights while w >= weight
        if that peer is usable: done
        otherwise go round again, continuing from the current h;
        after the 21st unusable peer (``++tries > 20``) fall back to round robin

With fewer than two peers NGINX goes straight to round robin. Its round robin
is the smooth weighted one, so that is the fallback here too
(:class:`~lbsim.algorithms.weighted_round_robin.WeightedRoundRobin`, with its
own state). Here "usable" means ``backends.available``; NGINX's per-request
``tried`` bitmap only matters for retries of one request, which the balancer
does not ask of the algorithm.

The walk is a binary search over cumulative weights (O(log n)) and the result
for each /24 is cached until ``hosts_changed``, so a repeated client costs a dict
lookup.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import ClassVar

import numpy as np

from lbsim.algorithms.base import ROUND_ROBIN, BaseAlgorithm, HashMemo, HostSet, Params, Request
from lbsim.algorithms.weighted_round_robin import WeightedRoundRobin

MAX_TRIES = 20  # NGINX: round robin once ++tries > 20, i.e. after 21 unusable peers


def ip_hash_points(key: int, total_weight: int, tries: int = MAX_TRIES + 1) -> Iterator[int]:
    """The weight points ``h % total_weight`` NGINX probes for address ``key``, in order."""
    o1, o2, o3 = (key >> 24) & 0xFF, (key >> 16) & 0xFF, (key >> 8) & 0xFF
    h = 89
    for _ in range(tries):
        h = (h * 113 + o1) % 6271
        h = (h * 113 + o2) % 6271
        h = (h * 113 + o3) % 6271
        yield h % total_weight


class IpHash(BaseAlgorithm):
    """Hash of the client's /24 (first 3 octets) to a backend by weight (NGINX ip_hash)."""

    name: ClassVar[str] = "ip_hash"

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        super().__init__(backends, rng, params)
        self._round_robin = WeightedRoundRobin(backends, rng, Params())
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._round_robin.hosts_changed()
        self._bounds = list(accumulate(self.backends.weights))
        self._memo = HashMemo()

    def _lookup(self, key: int) -> int:
        """The backend NGINX's hash loop settles on, or ``ROUND_ROBIN``."""
        available = self.backends.available
        if len(available) < 2:
            return ROUND_ROBIN
        bounds = self._bounds
        for point in ip_hash_points(key, bounds[-1]):
            backend = bisect_right(bounds, point)
            if available[backend]:
                return backend
        return ROUND_ROBIN

    def pick(self, request: Request) -> int | None:
        key = request.hash_key
        backend = self._memo.get(key >> 8, self._lookup, key)  # one answer per /24
        return self._round_robin.pick(request) if backend == ROUND_ROBIN else backend
