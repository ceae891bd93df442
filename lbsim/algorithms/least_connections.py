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

import heapq
from typing import ClassVar

import numpy as np

from lbsim.algorithms.base import Backends, BaseAlgorithm, Params

_EWGHT_MAX = 256 * 16
_WEIGHT_SCALE = 16


class LeastConnections(BaseAlgorithm):
    """Fewest outstanding requests per weight; round robin among ties (HAProxy leastconn)."""

    name: ClassVar[str] = "least_connections"

    def __init__(self, backends: Backends, rng: np.random.Generator, params: Params) -> None:
        super().__init__(backends, rng, params)
        self._seq = 0
        self.on_change()

    def _key(self, backend: int) -> int:
        inflight = self.backends.outstanding[backend]
        if not inflight:
            return 0
        return (inflight + 1) * _EWGHT_MAX // (self.backends.weights[backend] * _WEIGHT_SCALE)

    def on_change(self) -> None:
        self._keys: list[int | None] = [None] * len(self.backends)
        self._current: list[int] = [0] * len(self.backends)  # insertion number in the heap
        self._heap: list[tuple[int, int, int]] = []
        for backend in self.backends.eligible():
            self._queue(backend)

    def _queue(self, backend: int) -> None:
        key = self._key(backend)
        if self._keys[backend] == key:
            return  # HAProxy leaves a server in place when its key is unchanged
        self._keys[backend] = key
        self._seq += 1
        self._current[backend] = self._seq
        heapq.heappush(self._heap, (key, self._seq, backend))
        if len(self._heap) > 4 * len(self._current) + 64:
            current = self._current
            self._heap = [entry for entry in self._heap if current[entry[2]] == entry[1]]
            heapq.heapify(self._heap)

    def pick(self, key: int) -> int | None:
        heap, current = self._heap, self._current
        while heap:
            _, seq, backend = heap[0]
            if current[backend] == seq:
                return backend
            heapq.heappop(heap)
        return None

    def on_send(self, backend: int) -> None:
        if self._keys[backend] is not None:
            self._queue(backend)

    def on_complete(self, backend: int, latency: float) -> None:
        if self._keys[backend] is not None:
            self._queue(backend)
