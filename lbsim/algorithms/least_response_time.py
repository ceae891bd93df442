"""Least response time, in the manner of NGINX ``least_time``.

NGINX ``least_time header|last_byte`` (``ngx_http_upstream_least_time_module.c``,
open source since 1.31.0; the average in ``ngx_http_upstream_response_time_avg``,
``ngx_http_upstream_round_robin.h``) keeps an exponential moving average of
each server's response time, ``avg = 0.05·v + 0.95·avg`` with the first sample
taken as is, estimates the time a new request would take as
``eta = avg × (1 + conns)`` and picks the minimum ``eta / weight``.

Here ``v`` is the latency the balancer reports in ``on_complete`` and ``conns``
its own count of outstanding requests. Deviations from NGINX, on purpose:

* float seconds throughout: no integer milliseconds with +0.5 rounding, no
  rounding up to the next 20 ms bucket, no 5000 ms clamp;
* no halving of the average per elapsed ``fail_timeout + 1`` seconds and no
  ``inflight`` variant;
* the weight ``alpha`` of a new sample is a parameter (NGINX: 0.05);
* a backend without a sample yet has ``avg = 0``, so its ``eta`` is 0 and it
  is tried before any measured backend;
* ties (equal ``eta / weight``, e.g. all unmeasured backends) go round robin
  through a heap keyed ``(eta / weight, insertion number)``: a backend is
  re-queued behind its equals whenever a request is sent to it, and whenever
  a completion changes its key. NGINX breaks ties by a smooth weighted round
  robin pass over the tied peers instead.

A pick is O(log n) amortised (stale heap entries are skipped and the heap is
compacted when it grows past four entries per backend).
"""

from __future__ import annotations

import heapq
from typing import ClassVar

import numpy as np
from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import Backends, BaseAlgorithm, Params


class LeastResponseTimeParams(Params):
    alpha: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="weight of a new latency sample in the moving average (NGINX: 0.05)",
    )


class LeastResponseTime(BaseAlgorithm):
    """Least average latency × (1 + outstanding) / weight (NGINX least_time, float seconds)."""

    name: ClassVar[str] = "least_response_time"
    Params = LeastResponseTimeParams

    def __init__(self, backends: Backends, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, LeastResponseTimeParams)
        self._alpha = params.alpha
        self._keep = 1.0 - params.alpha
        self.averages = [0.0] * len(backends)  # EMA of latency, seconds; 0 until a sample
        self._sampled = [False] * len(backends)
        self._seq = 0
        self.on_change()

    def _key(self, backend: int) -> float:
        backends = self.backends
        return (
            self.averages[backend] * (1 + backends.outstanding[backend]) / backends.weights[backend]
        )

    def on_change(self) -> None:
        self._keys: list[float | None] = [None] * len(self.backends)
        self._current: list[int] = [0] * len(self.backends)  # insertion number in the heap
        self._heap: list[tuple[float, int, int]] = []
        for backend in self.backends.eligible():
            self._queue(backend)

    def _queue(self, backend: int) -> None:
        key = self._key(backend)
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
            self._queue(backend)  # always: puts it behind backends with an equal key

    def on_complete(self, backend: int, latency: float) -> None:
        if self._sampled[backend]:
            self.averages[backend] = self._alpha * latency + self._keep * self.averages[backend]
        else:
            self.averages[backend] = latency
            self._sampled[backend] = True
        if self._keys[backend] is not None and self._key(backend) != self._keys[backend]:
            self._queue(backend)
