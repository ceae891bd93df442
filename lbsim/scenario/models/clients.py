"""``clients:``: who sends requests, when, what each costs, timeouts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from lbsim.scenario.dists import Distribution, Duration, Frozen, PositiveDuration
from lbsim.scenario.models.patterns import Fanout, Hedge
from lbsim.scenario.models.retries import Retries
from lbsim.scenario.models.sessions import Sessions
from lbsim.scenario.units import parse_rate

_RATE_SCHEMA = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "pattern": r"^\s*[0-9.eE+-]+\s*(k|M)?\s*(/\s*(s|m|h))?\s*$"},
    ],
    "description": "events per second, or with a unit: 800/s, 10k/s, 90/m",
}
Rate = Annotated[float, BeforeValidator(parse_rate), WithJsonSchema(_RATE_SCHEMA), Field(ge=0)]
PositiveRate = Annotated[
    float, BeforeValidator(parse_rate), WithJsonSchema(_RATE_SCHEMA), Field(gt=0)
]


class RatePoint(Frozen):
    """One corner of a piecewise-linear arrival-rate profile."""

    at: Duration
    rate: Rate


class Arrivals(Frozen):
    """When requests arrive: Poisson (random) or deterministic (evenly spaced),
    at a constant ``rate`` or along a piecewise-linear ``profile`` (the rate is
    interpolated between points and held after the last one)."""

    process: Literal["poisson", "deterministic"] = "poisson"
    rate: PositiveRate | None = None
    profile: tuple[RatePoint, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> Arrivals:
        if (self.rate is None) == (self.profile is None):
            raise ValueError("give exactly one of `rate` or `profile`")
        if self.profile is not None:
            times = [p.at for p in self.profile]
            if times != sorted(times) or len(set(times)) != len(times):
                raise ValueError("profile points must have strictly increasing `at`")
            if max(p.rate for p in self.profile) <= 0:
                raise ValueError("profile needs a rate above zero somewhere")
        return self

    @property
    def peak_rate(self) -> float:
        if self.profile is None:
            assert self.rate is not None
            return self.rate
        return max(p.rate for p in self.profile)


class Nat(Frozen):
    """A share of the clients hidden behind a few NAT gateways: they share
    the gateways' addresses, which is what makes IP hashing lopsided."""

    gateways: int = Field(default=1, ge=1)
    fraction: float = Field(default=0.5, gt=0, le=1)


class Clients(Frozen):
    """The population that sends requests, what each request costs, and how
    long clients wait and retry (timeouts include all retries, as Envoy's
    route timeout does)."""

    count: int = Field(default=1000, ge=1, le=10_000_000)
    subnets: int | None = Field(
        default=None,
        ge=1,
        description="distinct /24 networks the clients come from (default: one per client)",
    )
    nat: Nat | None = None
    arrivals: Arrivals
    service: Distribution = Field(description="service demand in seconds on a speed-1 server")
    timeout: PositiveDuration | None = Field(
        default=None, description="overall: the client gives up (status timeout)"
    )
    per_try_timeout: PositiveDuration | None = Field(
        default=None, description="one attempt is abandoned after this (and maybe retried)"
    )
    retries: Retries | None = None
    rtt: Distribution | None = Field(
        default=None,
        description="network round trip of each attempt, added when the answer travels back "
        "(the client sees it this much later; a retry leaves after it and the back-off)",
    )
    sessions: Sessions | None = Field(
        default=None,
        description="closed-loop users: each arrival starts a session of requests with think times",
    )
    hedge: Hedge | None = None
    fanout: Fanout | None = None

    @model_validator(mode="after")
    def _one_pattern(self) -> Clients:
        if self.hedge is not None and self.fanout is not None:
            raise ValueError("give at most one of `hedge` or `fanout`")
        return self
