"""Service time that grows with load: a server whose slowdown follows a curve.

Contention for locks, caches and memory bandwidth, or a garbage collector
working harder on a fuller heap, make each request slower the more requests
a server holds; that positive feedback is what lets an overload outlive its
trigger (Bronson et al., "Metastable Failures in Distributed Systems",
HotOS 2021). The factor is read when a service starts, at the load then —
the requests at the server (in service and waiting, the starting one
included) — from the pool's ``slowdown`` points, interpolated linearly
between them and held beyond the first and the last. It multiplies any
factor a timeline ``slow`` event sets. A plain :class:`Server` is used
whenever a pool has no curve, so the flat hot path is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lbsim.engine.servers import Server
from lbsim.scenario.models import SlowdownPoint


def slowdown_table(points: Sequence[SlowdownPoint]) -> list[float]:
    """The factor at every load from 0 up to the last point's (held after it)."""
    loads = np.arange(points[-1].load + 1)
    return np.interp(loads, [p.load for p in points], [p.factor for p in points]).tolist()


class LoadedServer(Server):
    """A :class:`Server` whose service time depends on its load (module docstring).

    The base class reads ``slowdown`` once per service start; here that
    read is a property giving the event factor times the curve's factor at
    the current load, and a timeline event's write sets the event factor.
    """

    __slots__ = ("_factor", "_table")

    def __init__(self, *args: Any, curve: Sequence[SlowdownPoint], **kwargs: Any) -> None:
        self._table = slowdown_table(curve)
        self._factor = 1.0
        super().__init__(*args, **kwargs)

    @property
    def slowdown(self) -> float:
        table = self._table
        load = len(self.queue) + self.busy
        return self._factor * table[load if load < len(table) else -1]

    @slowdown.setter
    def slowdown(self, factor: float) -> None:
        self._factor = factor
