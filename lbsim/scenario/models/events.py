"""Failures: random ``faults:`` of a server pool and the scripted ``events:`` timeline."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from lbsim.scenario.dists import Distribution, Duration, Frozen, PositiveDuration


def _exponential_if_bare(value: object) -> object:
    """A bare duration in a random-time field means exponential with that mean."""
    return {"dist": "exponential", "mean": value} if isinstance(value, str | int | float) else value


RandomDuration = Annotated[Distribution, BeforeValidator(_exponential_if_bare)]


class Crashes(Frozen):
    """Random crash/repair of each server of a pool: up for ``mtbf``, down for
    ``mttr``, alternating (a bare duration means exponential with that mean)."""

    mtbf: RandomDuration = Field(
        description="time up between crashes: a duration (exponential mean) or a distribution"
    )
    mttr: RandomDuration = Field(
        description="time down per crash: a duration (exponential mean) or a distribution"
    )


class Faults(Frozen):
    """Random failures of each server of a pool."""

    crash: Crashes | None = Field(
        default=None, description="random crashes of each server of the pool"
    )


Action = Literal["crash", "recover", "slow", "error_rate", "hang", "drain", "undrain", "set_weight"]


class TimelineEvent(Frozen):
    """A scripted event: ``{at: 5m, target: web-3, action: crash, for: 2m}``.

    ``crash`` (down: in-flight requests fail, new ones time out connecting),
    ``hang`` (accepts, never answers), ``slow`` (service takes ``factor`` times
    longer), ``error_rate`` (answers a ``rate`` fraction with a fast 5xx),
    ``drain`` (the balancer sends nothing new; in-flight requests finish),
    ``set_weight``; ``recover``/``undrain`` undo. With ``for``, the event is
    undone after that long.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    at: Duration
    target: str = Field(description="a server (web-3) or a balancer instance (lb-0)")
    action: Action = Field(description="what happens to the target")
    for_: PositiveDuration | None = Field(
        default=None, alias="for", description="until it reverts (default: for good)"
    )
    factor: float | None = Field(
        default=None, gt=0, description="slow: service takes this many times longer"
    )
    rate: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="error_rate: share of requests answered with a server error",
    )
    weight: int | None = Field(default=None, ge=1, le=256, description="set_weight: the new weight")

    @model_validator(mode="after")
    def _parameters(self) -> TimelineEvent:
        needs = {"slow": "factor", "error_rate": "rate", "set_weight": "weight"}
        if self.action in needs and getattr(self, needs[self.action]) is None:
            raise ValueError(f"action {self.action} needs `{needs[self.action]}`")
        if self.for_ is not None and self.action in ("recover", "undrain", "set_weight"):
            raise ValueError(f"`for` makes no sense with action {self.action}")
        return self
