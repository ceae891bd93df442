"""HAProxy ``balance random(draws)``, its default algorithm (since 2025-09, 3.3-dev).

``get_server_rnd`` (``src/backend.c``) makes ``draws`` draws (default 2);
each looks a random key up in the consistent-hash tree of the usable
servers (``chash_get_server_hash``, ``src/lb_chash.c``), so a server is drawn
in proportion to its weight, with replacement. A new draw ``curr`` replaces
the best so far ``prev`` unless it is more loaded: ``prev`` is kept when
``curr.served * prev.eweight > prev.served * curr.eweight``; a repeated
server is not compared, and on equal loads HAProxy compares the servers'
request rates over the last second, keeping ``prev`` only if its weighted
rate is lower.

Here a draw is a point ``u * total_weight`` (``u`` uniform in ``[0, 1)``)
looked up in the cumulative weights of the available hosts (binary search),
and ``served`` is this balancer's own count of outstanding requests.
Differences from HAProxy, on purpose:

* draws are exactly proportional to the weights, where HAProxy's tree gives
  each server ``16 × weight`` points and so only approximately that share;
* no request-rate tie-break (the protocol carries no clock): on equal loads
  the later draw wins, which is what HAProxy does when the rates are equal
  too;
* no ``maxconn`` / queue check on the final pick (HAProxy then queues the
  request in the backend);
* on a retry every host already tried is left out of the draws (HAProxy's
  redispatch avoids only the previous server, walking to the next one on
  the ring); if every available host was tried the pick returns None.

O(draws · log n) per pick.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.algorithms.draws import Uniforms

if TYPE_CHECKING:
    import numpy as np


class HaproxyRandomParams(Params):
    draws: int = Field(
        default=2, ge=1, le=100, description="weighted draws per pick (HAProxy random(N))"
    )


class HaproxyRandom(BaseAlgorithm):
    """Least served per weight of `draws` weighted draws, with replacement (HAProxy random)."""

    name: ClassVar[str] = "haproxy_random"
    Params = HaproxyRandomParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, HaproxyRandomParams)
        self._draws = params.draws
        self._uniforms = Uniforms(rng)
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._hosts = self.backends.eligible()
        self._ends = list(accumulate(self.backends.weights[i] for i in self._hosts))

    def pick(self, request: Request) -> int | None:
        hosts, ends = self._hosts, self._ends
        tried = request.tried
        if tried:
            hosts = [i for i in hosts if i not in tried]
            ends = list(accumulate(self.backends.weights[i] for i in hosts))
        if not hosts:
            return None
        outstanding, weights = self.backends.outstanding, self.backends.weights
        total, draw = ends[-1], self._uniforms.next
        best = -1
        for _ in range(self._draws):
            curr = hosts[bisect_right(ends, draw() * total)]
            if best >= 0 and outstanding[curr] * weights[best] > outstanding[best] * weights[curr]:
                curr = best
            best = curr
        return best
