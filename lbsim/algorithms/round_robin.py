"""Round robin as Envoy does it (``round_robin_lb.h``, ``edf_lb.cc``).

Equal weights: ``hosts[rr_index++ % hosts.size()]`` over the list of hosts
the balancer may use (Envoy's healthy hosts; all of them in panic). The index
starts at a per-instance random value (Envoy's ``seed_``, here a 64-bit draw
from the algorithm's generator) and survives membership changes: when a
host leaves, the same index points into the shorter list, it does not walk
the old list skipping the missing host.

Unequal weights: Envoy's EDF schedule (:class:`EdfScheduler`), built anew
on every change of the usable hosts with the same seed as pre-picks
(``createWithPicks(hosts, weight, seed_)``), so each rebuild restarts at
the same point of its rotation. A change of weights alone (slow start)
keeps the schedule, each host re-added with its weight at pick time, as
Envoy's slow start does; the schedule stays EDF until the hosts change.

Retries: a host in ``request.tried`` is skipped, each skip consuming a turn
as Envoy's retry host predicate (``previous_hosts``) re-running selection
does. If every usable host was tried, the next one in turn is taken anyway
(Envoy keeps its last selection when the predicate cannot be met).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from lbsim.algorithms.base import BaseAlgorithm, EdfScheduler, HostSet, Params, Request

if TYPE_CHECKING:
    import numpy as np

_UINT32 = (1 << 32) - 1


class RoundRobin(BaseAlgorithm):
    """Each usable host in turn from a random start; EDF for unequal weights (Envoy)."""

    name: ClassVar[str] = "round_robin"
    request_blind = True  # reads only ``tried``

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        super().__init__(backends, rng, params)
        self.seed = int(rng.integers(0, 1 << 64, dtype="uint64"))
        # rr_index is seed + picks; kept as picks (a small int, cheap to add
        # and divide) and seed mod the host count, as (seed + k) % n is
        # (seed % n + k) % n
        self._picks = 0
        self._offset = 0
        self._hosts: list[int] = []
        self._edf: EdfScheduler | None = None
        self.hosts_changed()

    def _weight(self, host: int) -> float:
        return float(self.backends.weights[host])

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        members = self.backends.eligible()
        if members == self._hosts and self._edf is not None:
            return  # weights only (slow start): Envoy re-reads them at each pick
        self._hosts = members
        self._offset = self.seed % len(members) if members else 0
        weights = {self.backends.weights[host] for host in members}
        self._edf = None
        if len(weights) > 1:  # Envoy skips EDF when all weights are equal or <= 1 host
            self._edf = EdfScheduler(members, self._weight, self.seed & _UINT32)

    def _next(self) -> int:
        if self._edf is not None:
            return self._edf.pick(self._weight)
        picks = self._picks
        self._picks = picks + 1
        return self._hosts[(self._offset + picks) % len(self._hosts)]

    def pick(self, request: Request) -> int | None:
        hosts = self._hosts
        if not hosts:
            return None
        tried = request.tried
        if self._edf is None and not tried:  # the common case, _next inlined
            picks = self._picks
            self._picks = picks + 1
            return hosts[(self._offset + picks) % len(hosts)]
        host = self._next()
        if tried and host in tried:
            if all(h in tried for h in self._hosts):
                return host
            while host in tried:
                host = self._next()
        return host
