"""The wait before a retry, by the configured jitter (see
:class:`lbsim.scenario.models.retries.Backoff` for the formulas and sources).

``envoy`` draws one uniform per retry, exactly as the balancer always did;
``none`` draws nothing; ``decorrelated`` remembers each retrying request's
previous wait (forgotten when the request ends).
"""

from __future__ import annotations

from lbsim.algorithms.draws import Uniforms
from lbsim.scenario.models import Backoff


class Backoffs:
    """Back-off waits of one balancer's retries."""

    __slots__ = ("_previous", "base", "cap", "jitter", "uniforms")

    def __init__(self, backoff: Backoff, uniforms: Uniforms) -> None:
        self.base = backoff.base
        self.cap = backoff.cap
        self.jitter = backoff.jitter
        self.uniforms = uniforms
        self._previous: dict[int, float] = {}

    def delay(self, request: int, attempt: int) -> float:
        """Seconds to wait before retrying ``request`` whose attempt ``attempt`` failed."""
        jitter, base, cap = self.jitter, self.base, self.cap
        if jitter == "envoy":
            return self.uniforms.next() * min((2 ** (attempt + 1) - 1) * base, cap)
        if jitter == "decorrelated":
            previous = self._previous.get(request, base)
            wait = min(cap, base + self.uniforms.next() * (3 * previous - base))
            self._previous[request] = wait
            return wait
        ceiling = min(cap, base * 2 ** (attempt + 1))
        if jitter == "none":
            return ceiling
        if jitter == "full":
            return self.uniforms.next() * ceiling
        return ceiling / 2 + self.uniforms.next() * ceiling / 2  # equal

    def forget(self, request: int) -> None:
        """``request`` ended: drop what was remembered of it."""
        if self._previous:
            self._previous.pop(request, None)
