"""Join the shortest queue, with perfect knowledge: an oracle for teaching.

No real balancer can do this: it reads each server's *true* number of
requests (queued plus in service, as JMT's JSQ counts them), including work
sent by other balancers, and breaks ties uniformly at random (JMT
``PropertyBasedStrategy``; Ciw's default ``tie_break='random'``). It is the
yardstick the realistic algorithms are measured against. On a retry the
hosts already tried are left out (None when every available host was
tried). O(n) per pick.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.algorithms.draws import Uniforms

if TYPE_CHECKING:
    import numpy as np


class JsqOracle(BaseAlgorithm):
    """Shortest true queue, ties at random (oracle: sees every server's real state)."""

    name: ClassVar[str] = "jsq_oracle"

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        super().__init__(backends, rng, params)
        if backends.true_load is None:
            raise ValueError("jsq_oracle needs the servers' true load")
        self._true_load = backends.true_load
        self._uniforms = Uniforms(rng)
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._eligible = self.backends.eligible()

    def pick(self, request: Request) -> int | None:
        best: list[int] = []
        best_load = -1
        tried = request.tried
        for backend in self._eligible:
            if backend in tried:
                continue
            load = self._true_load(backend)
            if best_load < 0 or load < best_load:
                best, best_load = [backend], load
            elif load == best_load:
                best.append(backend)
        if not best:
            return None
        return best[int(self._uniforms.next() * len(best))]
