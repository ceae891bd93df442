"""Engine-wide running totals, kept incrementally on the hot path.

:meth:`lbsim.engine.world.World.active` asks whether anything is left to
simulate on every probe, outlier tick, sample and random fault; these totals
answer it in O(1) instead of scanning every server and balancer.
"""

from __future__ import annotations


class Totals:
    """Counts over the whole world, updated where they change."""

    __slots__ = ("jobs", "outstanding", "pending_retries")

    def __init__(self) -> None:
        self.jobs = 0  # in the servers: in service, queued or frozen by a hang (probes too)
        self.outstanding = 0  # attempts the balancers await an answer to
        self.pending_retries = 0  # retries waiting out their back-off

    def any(self) -> bool:
        """Whether a job, an outstanding attempt or a retry is still pending."""
        return bool(self.jobs or self.outstanding or self.pending_retries)
