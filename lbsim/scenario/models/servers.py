"""``servers:``: pools of identical servers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from lbsim.scenario.dists import Frozen
from lbsim.scenario.models.autoscale import Autoscale
from lbsim.scenario.models.events import Faults

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"  # also a safe file name: no slash, no leading dot
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]


class SlowdownPoint(Frozen):
    """One corner of a load-dependent slowdown curve."""

    load: int = Field(ge=1, description="requests at the server (in service and waiting)")
    factor: float = Field(gt=0, description="service time multiplier at that load")


class ServerPool(Frozen):
    """``count`` identical servers named ``<name>-0`` ... ``<name>-<count-1>``."""

    name: Name = Field(
        default="web", description="pool name; its servers are <name>-0, <name>-1, ..."
    )
    count: int = Field(
        default=1,
        ge=1,
        le=100_000,
        description="servers in the pool (with autoscale: running at the start)",
    )
    workers: int = Field(default=1, ge=1, description="requests served at once")
    queue_limit: int | None = Field(
        default=None, ge=0, description="waiting requests beyond which new ones are rejected"
    )
    speed: float = Field(default=1.0, gt=0, description="service time = demand / speed")
    weight: int = Field(default=1, ge=1, le=256, description="balancer weight (HAProxy 1-256)")
    backup: bool = Field(default=False, description="used only when no primary is available")
    faults: Faults | None = Field(default=None, description="random failures of the pool's servers")
    contention: Literal["none", "optimistic"] = Field(
        default="none",
        description="optimistic: each server is one contended row (OCC): a request reads its "
        "version when service starts and commits at the end only if no other request "
        "committed meanwhile, else it fails (server_error, a conditional-write conflict)",
    )
    slowdown: tuple[SlowdownPoint, ...] | None = Field(
        default=None,
        min_length=1,
        description="service time that grows with load (contention, GC): the factor at "
        "each load, interpolated linearly between points and held after the last",
    )

    autoscale: Autoscale | None = Field(
        default=None,
        description="target-tracking autoscaling: hosts preallocated up to max, count at start",
    )

    @field_validator("slowdown")
    @classmethod
    def _increasing_loads(
        cls, points: tuple[SlowdownPoint, ...] | None
    ) -> tuple[SlowdownPoint, ...] | None:
        loads = [p.load for p in points or ()]
        if loads != sorted(set(loads)):
            raise ValueError("slowdown points must have strictly increasing `load`")
        return points

    @model_validator(mode="after")
    def _count_within_limits(self) -> ServerPool:
        scaling = self.autoscale
        if scaling is not None and not scaling.min <= self.count <= scaling.max:
            raise ValueError(
                f"count ({self.count}) must be between autoscale.min ({scaling.min}) "
                f"and autoscale.max ({scaling.max})"
            )
        return self

    @property
    def hosts(self) -> int:
        """Hosts allocated: ``autoscale.max`` with autoscaling, else ``count``."""
        return self.autoscale.max if self.autoscale is not None else self.count
