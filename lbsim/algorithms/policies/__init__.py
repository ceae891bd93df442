"""Policies beyond the primer's: the ones that read simulated time or hear
from the servers (peak EWMA, join-idle-queue), each in its own module.

:class:`Clocked` marks a policy that needs the time: the engine
(:mod:`lbsim.engine.load_reports`) gives it ``clock`` when it builds the
world; outside a world (tests) the clock is whatever the caller sets.
:class:`Peered` marks one whose balancer instances share state (the
dispatchers of join-idle-queue): the engine introduces them to each other.
:class:`Periodic` marks one that acts every ``period`` seconds of simulated
time (a stale snapshot refreshed, weights recomputed): the engine calls its
``tick``. :class:`LoadReported` marks one that hears the servers' own load
reports (utilisation, requests and errors per second) every
``report_period``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def _no_time() -> float:
    return 0.0


class Clocked:
    """A policy that reads simulated time through ``clock()`` (seconds)."""

    clock: Callable[[], float] = staticmethod(_no_time)


class Peered:
    """A policy whose instances cooperate: after building, the engine calls
    ``join_peers`` once, on one of them, with every instance of the same
    policy in the world (that one included)."""

    def join_peers(self, peers: Sequence[Peered]) -> None:
        """Make ``peers`` share their state."""


class Periodic:
    """A policy whose ``tick`` the engine calls every ``period`` seconds (from
    ``period`` on, while the run is active)."""

    period: float = 0.0

    def tick(self) -> None:
        """Act at a period boundary."""


class LoadReported:
    """A policy that receives every server's load report each ``report_period``."""

    report_period: float = 1.0

    def on_load_report(self, host: int, utilization: float, qps: float, eps: float) -> None:
        """``host`` was ``utilization`` busy (0..1) over the last period and
        answered ``qps`` requests per second, ``eps`` of them errors."""


class Words:
    """Uniform 64-bit integers from one generator, fetched in blocks (Envoy's
    ``random()``: one ``uint64_t`` per pick)."""

    __slots__ = ("_block", "_rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._block: list[int] = []

    def next(self) -> int:
        if not self._block:
            self._block = self._rng.integers(0, 1 << 64, size=4096, dtype="uint64").tolist()
            self._block.reverse()
        return self._block.pop()
