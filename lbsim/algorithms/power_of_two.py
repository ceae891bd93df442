"""Power of two choices, as Envoy's least-request balancer does it.

Envoy ``least_request`` with equal weights
(``source/extensions/load_balancing_policies/least_request/least_request_lb.cc``;
``choice_count`` default 2, at least 2, in ``least_request.proto``): draw
``choices`` hosts uniformly *with replacement* among available hosts and keep
the first one drawn unless a later draw has strictly fewer active requests
(so with two hosts it picks the busier one a quarter of the time). Envoy
switches to an EDF schedule when weights differ; this model ignores weights.
O(choices) per pick.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request, Uniforms


class PowerOfTwoParams(Params):
    choices: int = Field(default=2, ge=2, description="hosts sampled per pick (Envoy choice_count)")


class PowerOfTwo(BaseAlgorithm):
    """Least outstanding of `choices` random hosts, drawn with replacement (Envoy least_request)."""

    name: ClassVar[str] = "power_of_two"
    Params = PowerOfTwoParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, PowerOfTwoParams)
        self._choices = params.choices
        self._uniforms = Uniforms(rng)
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._eligible = self.backends.eligible()

    def pick(self, request: Request) -> int | None:
        eligible = self._eligible
        if not eligible:
            return None
        n = len(eligible)
        outstanding = self.backends.outstanding
        draw = self._uniforms.next
        best = eligible[int(draw() * n)]
        for _ in range(self._choices - 1):
            candidate = eligible[int(draw() * n)]
            if outstanding[candidate] < outstanding[best]:
                best = candidate
        return best
