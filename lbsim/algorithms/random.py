"""Random: a host drawn uniformly among the available ones, as Envoy does it.

Envoy's ``random`` policy (``RandomLoadBalancer::peekOrChoose``,
``source/extensions/load_balancing_policies/random/random_lb.cc``) takes
``hosts[random() % hosts.size()]`` over the healthy hosts: weights are
ignored. Here the index is ``int(u * n)`` with ``u`` uniform in ``[0, 1)``.
Over N servers with Poisson arrivals each server sees a Poisson stream of
rate λ/N: the M/M/1 picture of textbooks. The weighted NGINX ``random`` is
``nginx_random``.

On a retry the hosts already tried are left out (Envoy needs the
``previous_hosts`` retry predicate for that); None when every available
host was tried. O(1) per pick (O(n) on a retry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.algorithms.draws import Indices

if TYPE_CHECKING:
    import numpy as np


class RandomChoice(BaseAlgorithm):
    """A host drawn uniformly among the available ones, weights ignored (Envoy random)."""

    name: ClassVar[str] = "random"
    request_blind = True  # reads only ``tried``

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        super().__init__(backends, rng, params)
        self._indices = Indices(rng, 0)  # int(u * number of eligible hosts)
        self._draws = self._indices.block
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._eligible = self.backends.eligible()
        self._indices.resize(len(self._eligible))

    def pick(self, request: Request) -> int | None:
        hosts = self._eligible
        tried = request.tried
        if tried:
            hosts = [i for i in hosts if i not in tried]
            return hosts[int(self._indices.uniform() * len(hosts))] if hosts else None
        if not hosts:
            return None
        draws = self._draws
        return hosts[draws.pop() if draws else self._indices.next()]
