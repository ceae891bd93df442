"""NGINX ``random [two [least_conn]]`` (``ngx_http_upstream_random_module.c``).

Every peer, in configuration order and unavailable ones included, owns the
range ``[start, start + weight)`` of ``[0, total_weight)``
(``ngx_http_upstream_update_random``). A draw is ``x = random() %
total_weight`` (here ``int(u * total_weight)`` with ``u`` uniform in
``[0, 1)``) and a binary search finds the range holding ``x``
(``ngx_http_upstream_peek_random_peer``). A drawn peer that is unavailable or
already tried for this request is skipped and the draw repeated.

With ``two`` (``ngx_http_upstream_get_random2_peer``; ``least_conn`` is the
only, and default, method) draws go on until a second eligible peer
*different from the first* turns up; the first is kept only if the second
has strictly more requests per weight (``peer.conns * prev.weight >
prev.conns * peer.weight``), so a tie goes to the second draw. With two
peers this always takes the idler one.

Every rejected draw increments a counter (with ``two`` the first accepted
draw does too); once it exceeds 20 the pick falls back to NGINX's smooth
weighted round robin over the eligible untried peers
(``ngx_http_upstream_get_round_robin_peer``), as it does for an upstream of
fewer than two peers.

Differences from NGINX: ``conns`` is this balancer's own count of
outstanding requests; the counter of draws starts at 0 for every pick (NGINX
keeps it across the attempts of one request); ``max_conns`` is not modelled
and ``max_fails`` is the health model's business (it makes a peer
unavailable); in the round-robin fallback ``effective_weight`` is the
weight. When every available peer was tried the pick returns None (NGINX
would answer 502 after its tries).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.algorithms.draws import Uniforms

if TYPE_CHECKING:
    import numpy as np

MAX_TRIES = 20  # NGINX: more failed draws than this -> round robin


def swrr_pass(current: list[int], weights: Sequence[int], peers: Iterable[int]) -> int | None:
    """One pass of NGINX's smooth weighted round robin over ``peers`` (in order).

    Each peer adds its weight to ``current[peer]``; the first peer with the
    largest current weight wins and pays back the total. None if ``peers``
    is empty.
    """
    best: int | None = None
    total = 0
    for peer in peers:
        current[peer] += weights[peer]
        total += weights[peer]
        if best is None or current[peer] > current[best]:
            best = peer
    if best is not None:
        current[best] -= total
    return best


class NginxRandomParams(Params):
    two: bool = Field(
        default=False, description="random two least_conn: the idler of two different peers"
    )


class NginxRandom(BaseAlgorithm):
    """A peer drawn by weight; with `two`, the idler of two different draws (NGINX random)."""

    name: ClassVar[str] = "nginx_random"
    Params = NginxRandomParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, NginxRandomParams)
        self._two = params.two
        self._uniforms = Uniforms(rng)
        self._current = [0] * len(backends)  # current_weight of the round-robin fallback
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._starts = list(accumulate(self.backends.weights, initial=0))
        self._total = self._starts.pop()

    def _round_robin(self, tried: Collection[int]) -> int | None:
        eligible = (i for i in self.backends.eligible() if i not in tried)
        return swrr_pass(self._current, self.backends.weights, eligible)

    def pick(self, request: Request) -> int | None:
        tried = request.tried
        available = self.backends.available
        if len(available) < 2:
            return self._round_robin(tried)
        outstanding, weights = self.backends.outstanding, self.backends.weights
        starts, total, draw = self._starts, self._total, self._uniforms.next
        prev = -1
        for _ in range(MAX_TRIES + 1):
            peer = bisect_right(starts, int(draw() * total)) - 1
            if peer != prev and available[peer] and peer not in tried:
                if not self._two:
                    return peer
                if prev >= 0:
                    if outstanding[peer] * weights[prev] > outstanding[prev] * weights[peer]:
                        return prev
                    return peer
                prev = peer
        return self._round_robin(tried)
