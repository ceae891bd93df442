"""The engine's running state: per-request and world-wide.

:class:`RequestState` is what the balancer and the servers consult and
change while a request is alive — its status, attempt number, whether an
attempt is in flight, the backend of that attempt and when it was sent. Its
arrays double as the recorder's columns of the same name (no copy); the
recorder itself only receives facts.

:class:`Totals` are world-wide counts kept where they change, so
:meth:`lbsim.engine.world.World.active` (asked on every probe, outlier tick,
sample and random fault) is O(1) instead of a scan of every server.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lbsim.status import INCOMPLETE

Full = Callable[..., np.ndarray]  # np.full, or an arena's (lbsim.engine.arena.Arena.full)
# a column of n zero bytes indexed as ints: a bytearray (the cheapest to
# index), or an arena's (Arena.flags)
Flags = Callable[[int], bytearray | memoryview]


class RequestState:
    """Per-request state columns, allocated once for the whole workload
    (by ``full`` and ``flags``: numpy's and a bytearray, or an arena's in a
    windowed run).

    There is no connection column yet: every request is its own connection
    (``connection_id`` -1 in the algorithms' view).
    """

    __slots__ = ("attempt", "inflight", "sent", "server", "status")

    def __init__(self, n: int, full: Full = np.full, flags: Flags = bytearray) -> None:
        self.status = full(n, INCOMPLETE, dtype=np.int8)  # INCOMPLETE until final
        self.attempt = full(n, 0, dtype=np.int8)  # 0 = first try; also the retry count
        self.inflight = flags(n)  # 1 while an attempt awaits its answer
        self.server = full(n, -1, dtype=np.int32)  # backend of the latest attempt
        self.sent = full(n, np.nan, dtype=np.float64)  # when the latest attempt was sent

    def columns(self) -> dict[str, np.ndarray]:
        """The arrays that are also recorded facts, by fact name."""
        return {
            "status": self.status,
            "retries": self.attempt,
            "server": self.server,
            "sent": self.sent,
        }


class Totals:
    """Counts over the whole world, updated where they change."""

    __slots__ = ("jobs", "outstanding", "pending_retries")

    def __init__(self) -> None:
        self.jobs = 0  # in the servers: in service, queued or frozen by a hang (probes too)
        self.outstanding = 0  # attempts the balancers await an answer to
        self.pending_retries = 0  # retries waiting out their back-off

    def any(self) -> bool:
        """Whether a job, an outstanding attempt or a retry is pending."""
        return bool(self.jobs or self.outstanding or self.pending_retries)
