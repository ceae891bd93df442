"""NGINX ``least_conn`` (``ngx_http_upstream_least_conn_module.c``).

``ngx_http_upstream_get_least_conn_peer`` walks the peers in configuration
order and keeps the one with the fewest connections per weight, compared by
cross multiplication (``conns * best.weight < best.conns * weight``, exact
integers: 1 connection on weight 2 ties with 2 on weight 4). If several tie,
it runs the smooth weighted round-robin pass (``current_weight`` +=
``effective_weight``, strictly largest wins and pays the total; see
:mod:`lbsim.algorithms.weighted_round_robin`) over the tied peers only,
starting from the first of them; without a tie no ``current_weight`` moves.
Failures lower ``effective_weight`` as in round robin (NGINX frees a
least_conn peer with ``ngx_http_upstream_free_round_robin_peer``).
``conns`` is this balancer's count of outstanding requests.

Retries skip the peers in ``request.tried``; when every usable peer was
tried the pick is None (NGINX: "no live upstreams", here ``no_backend``).
O(n) per pick, as in NGINX.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from lbsim.algorithms.base import BaseAlgorithm, HostSet, Request
from lbsim.algorithms.weighted_round_robin import (
    NGINX_FAILURES,
    NginxParams,
    NginxPeers,
    untried,
)

if TYPE_CHECKING:
    import numpy as np


class NginxLeastConn(BaseAlgorithm):
    """Fewest connections per weight, smooth WRR among ties (NGINX least_conn)."""

    name: ClassVar[str] = "nginx_least_conn"
    Params = NginxParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: NginxParams) -> None:
        super().__init__(backends, rng, params)
        self._peers = NginxPeers(backends, params.max_fails)
        self._eligible = backends.eligible()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._peers.reweigh(hosts)
        self._eligible = self.backends.eligible()

    def on_complete(self, host: int, latency: float, status: int) -> None:
        if status in NGINX_FAILURES:
            self._peers.fail(host)

    def pick(self, request: Request) -> int | None:
        conns, weights = self.backends.outstanding, self.backends.weights
        best = -1
        tied: list[int] = []
        for host in untried(self._eligible, request.tried):
            if best < 0 or conns[host] * weights[best] < conns[best] * weights[host]:
                best = host
                tied = [host]
            elif conns[host] * weights[best] == conns[best] * weights[host]:
                tied.append(host)
        if best < 0:
            return None
        return best if len(tied) == 1 else self._peers.select(tied)
