"""Client-address hashing, exactly as NGINX ``ip_hash`` does it.

NGINX ``ngx_http_upstream_get_ip_hash_peer``
(``src/http/modules/ngx_http_upstream_ip_hash_module.c``) hashes only the
first three octets of the client's IPv4 address, so every client of a /24
goes to the same server::

    h = 89                                  # per request
    loop:
        for b in (o1, o2, o3):              # the address's first 3 octets
            h = (h * 113 + b) % 6271
        w = h % total_weight                # total over *all* peers, down ones too
        walk peers in configuration order, subtracting weights while w >= weight
        if that peer is usable and not tried for this request: done
        otherwise (++tries) go round again, continuing from the current h;
        once tries > 20, fall back to round robin

The key is ``request.client_address`` (``$remote_addr`` as the balancer sees
it), never the route's ``hash_key``: NGINX's ip_hash has no configurable key
(that is ``hash``). With fewer than two peers NGINX goes straight to round
robin. Its round robin is the smooth weighted one, so that is the fallback
here too (:class:`~lbsim.algorithms.weighted_round_robin.WeightedRoundRobin`,
with its own state). "Usable" means ``backends.available``.

Retries: NGINX keeps ``h`` and ``tries`` per request, so a retry continues
from the ``h`` where the previous attempt stopped, skipping the peers in its
``tried`` bitmap (``request.tried`` here), and keeps counting tries. This
model recomputes the sequence from ``h = 89`` for each attempt: the first
point of each tried peer that is usable is where an earlier attempt stopped,
passed without counting a try, as NGINX resumes after it. That gives NGINX's
walk as long as availability did not change between the attempts.

The walk is a binary search over cumulative weights (O(log n)); the first
attempt's answer for each /24 is cached until the hosts change, so a
repeated client costs a dict lookup.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterator, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, ClassVar

from lbsim.algorithms.base import ROUND_ROBIN, BaseAlgorithm, HashMemo, HostSet, Params, Request
from lbsim.algorithms.weighted_round_robin import WeightedRoundRobin

if TYPE_CHECKING:
    import numpy as np

MAX_TRIES = 20  # NGINX: round robin once ++tries > 20, i.e. after 21 unusable peers


def ip_hash_points(address: int, total_weight: int) -> Iterator[int]:
    """The weight points ``h % total_weight`` NGINX probes for ``address``, in order (endless)."""
    o1, o2, o3 = (address >> 24) & 0xFF, (address >> 16) & 0xFF, (address >> 8) & 0xFF
    h = 89
    while True:
        h = (h * 113 + o1) % 6271
        h = (h * 113 + o2) % 6271
        h = (h * 113 + o3) % 6271
        yield h % total_weight


class IpHash(BaseAlgorithm):
    """NGINX ip_hash: the client's /24 (first 3 octets) to a backend by weight."""

    name: ClassVar[str] = "ip_hash"

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        super().__init__(backends, rng, params)
        # its fallback; it subscribes to the host set itself
        self._round_robin = WeightedRoundRobin(backends, rng, Params())
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._bounds = list(accumulate(self.backends.weights))
        self._memo = HashMemo()

    def _walk(self, address: int, tried: Collection[int]) -> int:
        """The backend NGINX's hash loop settles on, or ``ROUND_ROBIN``."""
        available = self.backends.available
        if len(available) < 2:
            return ROUND_ROBIN
        bounds = self._bounds
        tries = 0
        resumed: set[int] = set()  # tried peers whose earlier stop the walk has passed
        for point in ip_hash_points(address, bounds[-1]):
            backend = bisect_right(bounds, point)
            if available[backend]:
                if backend not in tried:
                    return backend
                if backend not in resumed:
                    resumed.add(backend)  # NGINX resumes after this h: no try counted
                    continue
            tries += 1
            if tries > MAX_TRIES:
                return ROUND_ROBIN
        raise AssertionError("ip_hash_points is endless")

    def _first(self, address: int) -> int:
        return self._walk(address, ())

    def pick(self, request: Request) -> int | None:
        address = request.client_address
        tried = request.tried
        if tried:
            backend = self._walk(address, tried)
        else:  # one answer per /24
            backend = self._memo.get(address >> 8, self._first, address)
        return self._round_robin.pick(request) if backend == ROUND_ROBIN else backend
