"""Random: a backend drawn at random, in proportion to its weight.

Follows NGINX ``random`` without ``two`` (``ngx_http_upstream_random_module.c``):
a point is drawn uniformly in ``[0, total_weight)`` and the backend whose
cumulative weight range holds it is chosen (binary search, O(log n)). With
equal weights this is Envoy's uniform random over available hosts. Over N
equal servers with Poisson arrivals each server sees a Poisson stream of rate
λ/N: the M/M/1 picture of textbooks.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import ClassVar

import numpy as np

from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request, Uniforms


class RandomChoice(BaseAlgorithm):
    """A backend drawn at random in proportion to its weight (NGINX random)."""

    name: ClassVar[str] = "random"

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        super().__init__(backends, rng, params)
        self._uniforms = Uniforms(rng)
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._eligible = self.backends.eligible()
        self._bounds = list(accumulate(self.backends.weights[i] for i in self._eligible))

    def pick(self, request: Request) -> int | None:
        if not self._eligible:
            return None
        point = self._uniforms.next() * self._bounds[-1]
        return self._eligible[bisect_right(self._bounds, point)]
