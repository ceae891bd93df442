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

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet, KeyedHeap, Params, Request


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

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, LeastResponseTimeParams)
        self._alpha = params.alpha
        self._keep = 1.0 - params.alpha
        self.averages = [0.0] * len(backends)  # EMA of latency, seconds; 0 until a sample
        self._sampled = [False] * len(backends)
        self.hosts_changed()

    def _key(self, backend: int) -> float:
        backends = self.backends
        return (
            self.averages[backend] * (1 + backends.outstanding[backend]) / backends.weights[backend]
        )

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._heap = KeyedHeap(len(self.backends))
        for backend in self.backends.eligible():
            self._heap.push(backend, self._key(backend))

    def pick(self, request: Request) -> int | None:
        return self._heap.top()

    def on_send(self, backend: int) -> None:
        if self._heap.keys[backend] is not None:
            self._heap.push(backend, self._key(backend))  # always: behind equal keys

    def on_complete(self, backend: int, latency: float, status: int) -> None:
        if self._sampled[backend]:
            self.averages[backend] = self._alpha * latency + self._keep * self.averages[backend]
        else:
            self.averages[backend] = latency
            self._sampled[backend] = True
        key = self._key(backend)
        if self._heap.keys[backend] not in (None, key):
            self._heap.push(backend, key)
