"""Power of two choices, as Envoy's least-request balancer does it.

Envoy ``least_request``
(``source/extensions/load_balancing_policies/least_request/least_request_lb.cc``):

* equal weights (``unweightedHostPickNChoices``; ``choice_count`` default 2,
  at least 2): draw ``choices`` hosts uniformly *with replacement*
  (``hosts[random() % n]``, here ``int(u * n)``) and keep the first drawn
  unless a later draw has strictly fewer active requests (so with two hosts
  it picks the busier one a quarter of the time);
* unequal weights (``EdfLoadBalancerBase::chooseHostOnce``,
  ``edf_scheduler.h``): an earliest-deadline-first schedule. Each host has a
  deadline; a pick takes the smallest (equal deadlines: the earlier
  inserted), moves the scheduler's time to it and re-inserts the host at
  ``time + 1 / weight`` with ``weight = w / (active + 1) ^
  active_request_bias`` computed at the pick (``hostWeight``; bias 1 divides
  by ``active + 1``, bias 0 is plain weighted round robin). Hosts not picked
  keep their deadline whatever their load does, so a host never fully
  drains. The schedule is rebuilt when the hosts change: every available
  host, in index order, at ``1 / weight``.

"Equal" is decided over the available hosts, as Envoy decides it over the
healthy ones. ``active`` is this balancer's own count of outstanding
requests. Differences from Envoy: the rebuilt schedule starts fresh, where
Envoy pre-picks a random number of times (``createWithPicks``); no
slow-start factor here (slow start changes the weights instead); on a retry
the hosts already tried are left out of the draws, and in the schedule they
are passed over (keeping their deadlines) instead of being picked and
rejected as Envoy's ``previous_hosts`` predicate would; None when every
available host was tried. O(choices) per pick with equal weights, O(log n)
with unequal ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.algorithms.draws import Indices

if TYPE_CHECKING:
    import numpy as np


class PowerOfTwoParams(Params):
    choices: int = Field(
        default=2, ge=2, le=100, description="hosts sampled per pick (Envoy choice_count)"
    )
    active_request_bias: float = Field(
        default=1.0,
        ge=0.0,
        description="unequal weights: weight / (active + 1) ^ bias (Envoy active_request_bias)",
    )


class PowerOfTwo(BaseAlgorithm):
    """Fewest active of `choices` uniform draws; EDF if weights differ (Envoy least_request)."""

    name: ClassVar[str] = "power_of_two"
    request_blind = True  # reads only ``tried``
    Params = PowerOfTwoParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, PowerOfTwoParams)
        self._choices = params.choices
        self._bias = params.active_request_bias
        self._indices = Indices(rng, 0)  # int(u * number of eligible hosts)
        self._draws = self._indices.block
        self._edf: list[tuple[float, int, int]] = []  # (deadline, insertion number, host)
        self._time = 0.0
        self._order = 0
        self.hosts_changed()

    def _weight(self, host: int) -> float:
        """Envoy ``hostWeight``: the weight scaled down by the active requests."""
        weight = float(self.backends.weights[host])
        active = self.backends.outstanding[host] + 1
        if self._bias == 1.0:
            return weight / active
        if self._bias != 0.0:
            return weight / active**self._bias
        return weight

    def _add(self, host: int) -> None:
        heapq.heappush(self._edf, (self._time + 1.0 / self._weight(host), self._order, host))
        self._order += 1

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._eligible = self.backends.eligible()
        self._indices.resize(len(self._eligible))
        weights = {self.backends.weights[i] for i in self._eligible}
        self._weighted = len(weights) > 1
        self._edf, self._time, self._order = [], 0.0, 0
        if self._weighted:
            for host in self._eligible:
                self._add(host)

    def pick(self, request: Request) -> int | None:
        if self._weighted:
            return self._pick_edf(request.tried)
        eligible = self._eligible
        draws, draw = self._draws, self._indices.next  # int(u * len(eligible))
        tried = request.tried
        if tried:  # the draws among the untried hosts, made before the comparisons
            eligible = [i for i in eligible if i not in tried]
            uniform, n = self._indices.uniform, len(eligible)
            draws = [int(uniform() * n) for _ in range(self._choices)] if eligible else []
            draws.reverse()
        if not eligible:
            return None
        outstanding = self.backends.outstanding
        best = eligible[draws.pop() if draws else draw()]
        if self._choices == 2:  # the default, written out: a pick per request
            other = eligible[draws.pop() if draws else draw()]
            return other if outstanding[other] < outstanding[best] else best
        for _ in range(self._choices - 1):
            candidate = eligible[draws.pop() if draws else draw()]
            if outstanding[candidate] < outstanding[best]:
                best = candidate
        return best

    def _pick_edf(self, tried: Collection[int]) -> int | None:
        edf = self._edf
        passed: list[tuple[float, int, int]] = []
        host: int | None = None
        while edf:
            entry = heapq.heappop(edf)
            if entry[2] in tried:
                passed.append(entry)
                continue
            host = entry[2]
            self._time = entry[0]
            self._add(host)
            break
        for entry in passed:
            heapq.heappush(edf, entry)
        return host
