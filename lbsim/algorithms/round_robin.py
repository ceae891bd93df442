"""Round robin: each backend in turn, skipping unavailable ones.

Follows Envoy's round robin for equal weights (``hosts[rr_index++ % n]``,
``source/extensions/load_balancing_policies/round_robin/round_robin_lb.h``),
with the index starting at 0 rather than at a random value so that golden
sequences read naturally; ignores weights (see ``weighted_round_robin``).
O(1) per pick while all backends are available.
"""

from __future__ import annotations

from typing import ClassVar

from lbsim.algorithms.base import BaseAlgorithm, Request


class RoundRobin(BaseAlgorithm):
    """Each backend in turn (Envoy round robin, equal weights)."""

    name: ClassVar[str] = "round_robin"
    _next = 0

    def pick(self, request: Request) -> int | None:
        available = self.backends.available
        n = len(available)
        for _ in range(n):
            index = self._next
            self._next = index + 1 if index + 1 < n else 0
            if available[index]:
                return index
        return None
