"""``clients:``: who sends requests, when, what each costs, timeouts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from lbsim.scenario.dists import (
    Distribution,
    Duration,
    Frozen,
    PositiveDuration,
    PositiveRate,
    Rate,
)
from lbsim.scenario.models.connections import Connections
from lbsim.scenario.models.mix import RequestClass
from lbsim.scenario.models.patterns import Fanout, Hedge
from lbsim.scenario.models.regions import Location
from lbsim.scenario.models.retries import Retries
from lbsim.scenario.models.sessions import Sessions


class RatePoint(Frozen):
    """One corner of a piecewise-linear arrival-rate profile."""

    at: Duration = Field(description="time of this corner of the profile")
    rate: Rate = Field(description="arrival rate at that time")


class Arrivals(Frozen):
    """When requests arrive: Poisson (random) or deterministic (evenly spaced),
    at a constant ``rate`` or along a piecewise-linear ``profile`` (the rate is
    interpolated between points and held after the last one)."""

    process: Literal["poisson", "deterministic"] = Field(
        default="poisson",
        description="poisson: random, exponential gaps; deterministic: evenly spaced",
    )
    rate: PositiveRate | None = Field(
        default=None, description="constant arrival rate (give `rate` or `profile`)"
    )
    profile: tuple[RatePoint, ...] | None = Field(
        default=None,
        min_length=1,
        description="piecewise-linear rate: points {at, rate}, interpolated, held after the last",
    )

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

    gateways: int = Field(
        default=1,
        ge=1,
        le=2**24,
        description="NAT gateways: the addresses the hidden clients share",
    )
    fraction: float = Field(
        default=0.5, gt=0, le=1, description="share of the clients behind the gateways"
    )


class Clients(Frozen):
    """The population that sends requests, what each request costs, and how
    long clients wait and retry (timeouts include all retries, as Envoy's
    route timeout does)."""

    count: int = Field(
        default=1000,
        ge=1,
        le=10_000_000,
        description="distinct clients (each with its own address, for hashing)",
    )
    subnets: int | None = Field(
        default=None,
        ge=1,
        le=2**24,  # the /24 networks of IPv4
        description="distinct /24 networks the clients come from (default: one per client)",
    )
    locations: tuple[Location, ...] = Field(
        default=(), description="where the clients are, by share (with regions:)"
    )
    nat: Nat | None = Field(
        default=None, description="a share of the clients behind a few NAT gateways"
    )
    arrivals: Arrivals = Field(description="when requests arrive")
    service: Distribution = Field(description="service demand in seconds on a speed-1 server")
    timeout: PositiveDuration | None = Field(
        default=None, description="overall: the client gives up (status timeout)"
    )
    per_try_timeout: PositiveDuration | None = Field(
        default=None, description="one attempt is abandoned after this (and maybe retried)"
    )
    retries: Retries | None = Field(default=None, description="client retries (default: none)")
    rtt: Distribution | None = Field(
        default=None,
        description="network round trip of each attempt, added when the answer travels back "
        "(the client sees it this much later; a retry leaves after it and the back-off)",
    )
    sessions: Sessions | None = Field(
        default=None,
        description="closed-loop users: each arrival starts a session of requests with think times",
    )
    connections: Connections | None = Field(
        default=None,
        description="connections carry many requests (keep-alive, HTTP/2, WebSockets); "
        "none: every request is its own connection",
    )
    hedge: Hedge | None = Field(
        default=None, description="send a backup copy of a request not answered in time"
    )
    fanout: Fanout | None = Field(
        default=None, description="each request is several calls, answered at a quorum"
    )

    @model_validator(mode="after")
    def _one_pattern(self) -> Clients:
        if self.hedge is not None and self.fanout is not None:
            raise ValueError("give at most one of `hedge` or `fanout`")
        if self.connections is not None and (self.hedge is not None or self.fanout is not None):
            raise ValueError("`hedge` and `fanout` do not work with `connections` yet")
        if self.connections and self.connections.websocket and self.sessions is not None:
            raise ValueError(
                "`sessions` ride keep-alive connections, not WebSockets "
                "(give connections.keepalive, or drop sessions)"
            )
        return self

    mix: tuple[RequestClass, ...] | None = Field(
        default=None,
        min_length=1,
        description="request classes (path, host, own service and timeout), drawn by share",
    )

    @field_validator("mix")
    @classmethod
    def _shares(cls, mix: tuple[RequestClass, ...] | None) -> tuple[RequestClass, ...] | None:
        if mix is not None:
            names = [c.name for c in mix]
            if len(set(names)) != len(names):
                raise ValueError(f"class names must be unique: {names}")
            total = sum(c.share for c in mix)
            if abs(total - 1) > 1e-9:
                raise ValueError(f"shares must sum to 1, not {total:g}")
        return mix
