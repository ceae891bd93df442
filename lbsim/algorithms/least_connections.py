"""Least connections, as HAProxy ``balance leastconn`` does it.

HAProxy (``src/lb_fwlc.c``, ``fwlc_srv_reposition``) keeps servers in a tree
keyed by ``(inflight + 1) * SRV_EWGHT_MAX / eweight`` in integer arithmetic,
with key 0 for an idle server (idle servers always come first), where
``SRV_EWGHT_MAX = 256 * 16`` and ``eweight = weight * 16``. The first server of
the tree wins; a server is re-queued only when its key changes, and equal keys
keep insertion order, which makes ties go round robin. Here the tree is a heap
of ``(key, insertion number, server)`` with stale entries skipped, so a pick
costs O(log n) whatever the number of servers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from lbsim.algorithms.base import BaseAlgorithm, HostSet, KeyedHeap, Params, Request

_EWGHT_MAX = 256 * 16
_WEIGHT_SCALE = 16


class LeastConnections(BaseAlgorithm):
    """Fewest outstanding requests per weight; round robin among ties (HAProxy leastconn)."""

    name: ClassVar[str] = "least_connections"

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        super().__init__(backends, rng, params)
        self.hosts_changed()

    def _key(self, backend: int) -> int:
        inflight = self.backends.outstanding[backend]
        if not inflight:
            return 0
        return (inflight + 1) * _EWGHT_MAX // (self.backends.weights[backend] * _WEIGHT_SCALE)

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._heap = KeyedHeap(len(self.backends))
        for backend in self.backends.eligible():
            self._heap.push(backend, self._key(backend))

    def _requeue(self, backend: int) -> None:
        key = self._key(backend)
        if self._heap.keys[backend] not in (None, key):
            self._heap.push(backend, key)  # HAProxy moves a server only when its key changes

    def pick(self, request: Request) -> int | None:
        return self._heap.top()

    def on_send(self, backend: int) -> None:
        self._requeue(backend)

    def on_complete(self, backend: int, latency: float, status: int) -> None:
        self._requeue(backend)
