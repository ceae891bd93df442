"""Peak EWMA: power of two choices on latency × load (Envoy / Finagle / Linkerd).

Envoy's contrib ``envoy.load_balancing_policies.peak_ewma`` (docs
``api-v3/config/contrib/load_balancing_policies/peak_ewma``; source
``peak_ewma_lb.cc`` of the contrib extension, whose EWMA "follows Finagle's
Peak EWMA implementation"), and Finagle's ``PeakEwma.scala`` (the balancer of
Linkerd's "Beyond Round Robin", 2016). The moving average is Finagle's rule
(Envoy's revisions of its calculator differ in detail); cost, penalty,
candidate draw, tie rule and defaults are Envoy's:

* Per host, a peak-sensitive moving average of the round-trip time in
  milliseconds, Finagle's ``Metric.observe(rtt)``: with ``td`` the time since
  the last observation and ``w = exp(-td / decay_time)``, ``cost = rtt`` if
  ``rtt > cost`` (a peak is taken at once) else ``cost·w + rtt·(1 - w)``. A
  read is ``observe(0)`` (Finagle's ``get``), so an idle host's average
  decays towards 0 and it is tried again. Each host starts at
  ``default_rtt`` (Envoy: 10 ms) so a new host does not take everything.
* ``cost = rtt_ewma × (active + 1)`` (Envoy ``calculateHostCostBranchless``;
  ``active`` is this balancer's outstanding requests on the host); a host
  whose average is 0 but has requests in flight costs
  ``PENALTY + active`` with ``PENALTY = INT64_MAX >> 16`` (Envoy
  ``kPenaltyValue``, Finagle ``Penalty``), one with neither costs 0.
* A pick (``selectFromTwoCandidates``) draws one 64-bit ``r`` and takes two
  *distinct* hosts ``first = r % n`` and ``second = (first + 1 + (r >> 16) %
  (n - 1)) % n``; the cheaper wins, a tie goes to ``first`` when the top bit
  of ``r`` is set. One host: that host.

Defaults as Envoy: ``decay_time`` 10 s, ``default_rtt`` 10 ms. Every attempt
that ends is observed with its latency, timeouts included (the time the
balancer waited: a lower bound, which still marks the host slow); Envoy's
filter times every response. On a retry the hosts already tried are left out
(Envoy would re-pick them under a ``previous_hosts`` predicate); None when
every available host was tried. O(1) per pick.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.algorithms.policies import Clocked, Words

if TYPE_CHECKING:
    import numpy as np

PENALTY = float((2**63 - 1) >> 16)  # Envoy kPenaltyValue, Finagle Penalty
TOP_BIT = 1 << 63  # Envoy kTieBreakingMask


class PeakEwmaParams(Params):
    decay_time: float = Field(
        default=10.0, gt=0, description="seconds; the averages' time constant (Envoy: 10 s)"
    )
    default_rtt: float = Field(
        default=0.010, ge=0, description="seconds; every host's average before a sample (10 ms)"
    )


class PeakEwma(Clocked, BaseAlgorithm):
    """P2C on peak-EWMA RTT × (active + 1), decay 10 s, 10 ms default (Envoy peak_ewma)."""

    name: ClassVar[str] = "peak_ewma"
    Params = PeakEwmaParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, PeakEwmaParams)
        self._decay = params.decay_time
        self.rtt = [params.default_rtt * 1000.0] * len(backends)  # ms, Finagle ``cost``
        self.stamp = [0.0] * len(backends)  # seconds, Finagle ``stamp``
        self._words = Words(rng)
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._eligible = self.backends.eligible()

    def observe(self, host: int, rtt_ms: float) -> None:
        """Finagle ``Metric.observe``: fold ``rtt_ms`` in at the current time."""
        now = self.clock()
        elapsed = now - self.stamp[host]
        w = math.exp(-elapsed / self._decay) if elapsed > 0 else 1.0
        current = self.rtt[host]
        self.rtt[host] = rtt_ms if rtt_ms > current else current * w + rtt_ms * (1.0 - w)
        self.stamp[host] = now

    def cost(self, host: int) -> float:
        """Envoy's host cost now (reading the average decays it, as in Finagle)."""
        self.observe(host, 0.0)
        rtt = self.rtt[host]
        active = self.backends.outstanding[host]
        if rtt > 0.0:
            return rtt * (active + 1)
        return PENALTY + active if active else 0.0

    def pick(self, request: Request) -> int | None:
        tried = request.tried
        hosts = [i for i in self._eligible if i not in tried] if tried else self._eligible
        n = len(hosts)
        if n < 2:
            return hosts[0] if hosts else None
        r = self._words.next()
        first = r % n
        second = (first + 1 + (r >> 16) % (n - 1)) % n
        a, b = hosts[first], hosts[second]
        cost_a, cost_b = self.cost(a), self.cost(b)
        if cost_a == cost_b:
            return a if r & TOP_BIT else b
        return a if cost_a < cost_b else b

    def on_complete(self, host: int, latency: float, status: int) -> None:
        self.observe(host, latency * 1000.0)
