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


Action = Literal[
    "crash", "recover", "slow", "error_rate", "hang", "drain", "undrain", "set_weight", "shift"
]


class TimelineEvent(Frozen):
    """A scripted event: ``{at: 5m, target: web-3, action: crash, for: 2m}``.

    ``crash`` (down: in-flight requests fail, new ones time out connecting),
    ``hang`` (accepts, never answers), ``slow`` (service takes ``factor`` times
    longer), ``error_rate`` (answers a ``rate`` fraction with a fast 5xx),
    ``drain`` (the balancer sends nothing new; in-flight requests finish),
    ``set_weight``; ``recover``/``undrain`` undo. With ``for``, the event is
    undone after that long. ``shift`` (target: a pool with versions) moves
    ``version``'s traffic weight to ``percent`` in ``steps`` equal steps,
    ``every`` apart; the other versions share the rest in proportion.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    at: Duration
    target: str = Field(
        description="a server (web-3), a balancer instance (lb-0) or, for shift, a pool"
    )
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
    version: str | None = Field(default=None, description="shift: the version of the pool to move")
    percent: float | None = Field(
        default=None, ge=0, le=100, description="shift: the version's final share of traffic"
    )
    steps: int = Field(default=1, ge=1, le=1000, description="shift: in this many equal steps")
    every: PositiveDuration | None = Field(
        default=None, description="shift: time between steps (needed with steps > 1)"
    )

    @model_validator(mode="after")
    def _parameters(self) -> TimelineEvent:
        needs = {"slow": "factor", "error_rate": "rate", "set_weight": "weight"}
        if self.action in needs and getattr(self, needs[self.action]) is None:
            raise ValueError(f"action {self.action} needs `{needs[self.action]}`")
        if self.action == "shift" and (self.version is None or self.percent is None):
            raise ValueError("action shift needs `version` and `percent`")
        if self.action == "shift" and self.steps > 1 and self.every is None:
            raise ValueError("a shift in several `steps` needs `every`")
        if self.for_ is not None and self.action in ("recover", "undrain", "set_weight", "shift"):
            raise ValueError(f"`for` makes no sense with action {self.action}")
        return self
