"""Envoy's client-side weighted round robin: weights from the servers' ORCA load reports.

``envoy.load_balancing_policies.client_side_weighted_round_robin``
(``source/extensions/load_balancing_policies/client_side_weighted_round_robin/
client_side_weighted_round_robin_lb.cc``; gRPC's ``weighted_round_robin``,
gRFC A58):

* A report with ``qps > 0`` and ``utilization > 0`` gives the weight
  ``qps / (utilization + error_utilization_penalty · eps / qps)`` (the
  penalty term only when ``eps > 0``), truncated to an integer
  (``static_cast<uint32_t>``) and at least 1 (Envoy clamps host weights to
  1); other reports are ignored. The first valid report after none (or
  after expiry) starts the host's ``non_empty_since``; each sets its
  ``last_update_time``.
* Every ``weight_update_period`` (default 1 s) each host gets its weight if
  it is valid — reported within ``weight_expiration_period`` (3 min; else
  its ``non_empty_since`` is reset) and out of the ``blackout_period``
  (10 s since ``non_empty_since``) — and otherwise the median of the valid
  weights (``weights[size / 2]`` after ``nth_element``: the upper median),
  or 1 if none is valid.
* Picks are Envoy's round robin over those weights (lbsim ``round_robin``:
  EDF once weights differ; a later weight change is read at each pick, where
  Envoy rebuilds the schedule).

Defaults as Envoy: blackout 10 s, expiration 3 min, update 1 s, penalty 1.0.
Reports: Envoy's default is a report on every response (its out-of-band
stream, ``oob_reporting_period`` 10 s, is optional); lbsim's servers report
every ``report_period`` (default 1 s) their utilisation over that period
(the busy fraction of their workers, sampled 20 times a period) and the
responses and errors (5xx, 503 rejections) per second they sent to any
balancer instance (:mod:`lbsim.engine.load_reports`). Every instance hears
every report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import HostListener, HostSet, Params, Request
from lbsim.algorithms.policies import Clocked, LoadReported, Periodic
from lbsim.algorithms.round_robin import RoundRobin

if TYPE_CHECKING:
    import numpy as np

UINT32_MAX = (1 << 32) - 1
NEVER = -1.0  # Envoy kDefaultNonEmptySince: no valid report yet


class ClientSideWrrParams(Params):
    blackout_period: float = Field(default=10.0, ge=0, description="seconds (Envoy: 10 s)")
    weight_expiration_period: float = Field(
        default=180.0, gt=0, description="seconds (Envoy: 3 min)"
    )
    weight_update_period: float = Field(
        default=1.0, ge=0.1, description="seconds (Envoy: 1 s, at least 100 ms)"
    )
    error_utilization_penalty: float = Field(default=1.0, ge=0, description="Envoy: 1.0")
    report_period: float = Field(
        default=1.0, ge=0.001, description="seconds between the servers' load reports"
    )


def orca_weight(qps: float, utilization: float, eps: float, penalty: float) -> int | None:
    """Envoy ``calculateWeightFromOrcaReport`` (None: an invalid report)."""
    if qps <= 0 or utilization <= 0:
        return None
    if eps > 0 and penalty > 0:
        utilization += penalty * eps / qps
    return max(1, int(min(qps / utilization, UINT32_MAX)))


class ClientSideWeightedRoundRobin(Clocked, Periodic, LoadReported, HostListener):
    """Round robin on weights qps / (utilisation + penalty·eps/qps) from server reports (Envoy)."""

    name: ClassVar[str] = "client_side_weighted_round_robin"
    Params = ClientSideWrrParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        assert isinstance(params, ClientSideWrrParams)
        self.params = params
        self.period = params.weight_update_period
        self.report_period = params.report_period
        self.backends = backends
        n = len(backends)
        self.view = HostSet(list(backends.names), [1] * n)  # the weights Envoy computes
        self._mirror()
        self.round_robin = RoundRobin(self.view, rng, Params())
        self.reported = [0] * n  # the weight of the last valid report
        self.non_empty_since = [NEVER] * n
        self.last_update = [NEVER] * n
        backends.subscribe(self)

    def _mirror(self) -> None:
        self.view.available[:] = self.backends.available
        self.view.members[:] = self.backends.members

    def hosts_changed(self, hosts: Sequence[int]) -> None:
        self._mirror()
        for listener in self.view.listeners:
            listener.hosts_changed(hosts)

    def on_load_report(self, host: int, utilization: float, qps: float, eps: float) -> None:
        """Envoy ``updateClientSideDataFromOrcaLoadReport``."""
        weight = orca_weight(qps, utilization, eps, self.params.error_utilization_penalty)
        if weight is None:
            return
        now = self.clock()
        if self.non_empty_since[host] == NEVER:
            self.non_empty_since[host] = now
        self.last_update[host] = now
        self.reported[host] = weight

    def tick(self) -> None:
        """Envoy ``updateWeightsOnHosts``: valid weights, the rest the median."""
        now = self.clock()
        newest_start = now - self.params.blackout_period
        oldest_update = now - self.params.weight_expiration_period
        valid: dict[int, int] = {}
        for host in range(len(self.view)):
            if self.last_update[host] == NEVER or self.last_update[host] < oldest_update:
                self.non_empty_since[host] = NEVER  # expired (or never reported)
            elif self.non_empty_since[host] <= newest_start:
                valid[host] = self.reported[host]
        ordered = sorted(valid.values())
        default = ordered[len(ordered) // 2] if ordered else 1
        self.view.set_weights({h: valid.get(h, default) for h in range(len(self.view))})

    def pick(self, request: Request) -> int | None:
        return self.round_robin.pick(request)

    def on_send(self, host: int) -> None:
        """Round robin needs no load counts."""

    def on_complete(self, host: int, latency: float, status: int) -> None:
        """Weights come from the servers' reports, not from latencies."""
