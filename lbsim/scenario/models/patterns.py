"""``clients.hedge:`` and ``clients.fanout:``: one request, several calls."""

from __future__ import annotations

from pydantic import Field, model_validator

from lbsim.scenario.dists import Frozen, PositiveDuration


class Hedge(Frozen):
    """Hedged requests (Dean & Barroso, "The Tail at Scale", CACM 2013): when
    a request has not been answered ``after`` its arrival, one backup copy is
    sent (balanced like any request, with a service demand of its own); the
    first ``ok`` answer wins and the other copy is cancelled (taken out of its
    server's queue, or its service stopped). Backups are capped: after n
    requests at most ⌊``max_extra`` · n⌋ backups have been sent."""

    after: PositiveDuration = Field(description="delay before the backup copy is sent")
    max_extra: float = Field(
        default=0.05, gt=0, le=1, description="most backups, as a fraction of requests"
    )


class Fanout(Frozen):
    """Fan-out requests (a search front end querying every index shard): each
    request is ``leaves`` calls sent at once, each with a service demand of
    its own; it is answered when ``quorum`` leaves (default: all) have
    answered ``ok``, so its latency is that of the slowest leaf it needs."""

    leaves: int = Field(ge=2, le=1000, description="calls per request")
    quorum: int | None = Field(default=None, ge=1, description="ok leaves needed (default: all)")

    @model_validator(mode="after")
    def _quorum_fits(self) -> Fanout:
        if self.quorum is not None and self.quorum > self.leaves:
            raise ValueError(f"quorum ({self.quorum}) cannot exceed leaves ({self.leaves})")
        return self

    @property
    def needed(self) -> int:
        return self.leaves if self.quorum is None else self.quorum
