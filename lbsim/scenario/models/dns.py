"""``dns:``: which region each client is sent to, with Route 53's routing policies.

``policy``: ``weighted`` (a record with probability weight / total; weight 0
only when every weight is 0), ``latency`` (the region with the lowest mean
RTT from the client's location), ``geolocation`` (the most specific record
matching the location: subdivision, then country, then continent, then the
default record), ``failover`` (the primary while healthy, else the
secondary) or ``multivalue`` (up to 8 healthy records, the client picks
one). Answers are cached by the location's resolvers for ``ttl``; a
``stale`` share of clients keeps its answer for ``hold`` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from lbsim.scenario.dists import Duration, Frozen, PositiveDuration
from lbsim.scenario.errors import did_you_mean
from lbsim.scenario.models.servers import Name

if TYPE_CHECKING:
    from lbsim.scenario.models.regions import Location
    from lbsim.scenario.models.routing import Loc

Policy = Literal["weighted", "latency", "geolocation", "failover", "multivalue"]
HEALTHY_SHARE = 0.18  # Route 53: healthy when more than 18% of checkers say so
MULTIVALUE_ANSWERS = 8  # Route 53 answers up to 8 healthy multivalue records


class Record(Frozen):
    """One record: the region it answers, and its policy's fields."""

    region: Name = Field(description="the region this record answers (regions[].name)")
    weight: int = Field(default=1, ge=0, le=255, description="weighted: relative weight 0-255")
    role: Literal["primary", "secondary"] | None = Field(
        default=None, description="failover: primary or secondary"
    )
    continent: str | None = Field(
        default=None,
        pattern=r"^(AF|AN|AS|EU|OC|NA|SA)$",
        description="geolocation: matches clients of this continent",
    )
    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="geolocation: matches this country"
    )
    subdivision: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$",
        description="geolocation: matches this subdivision (US-CA)",
    )

    def geo_rank_fields(self) -> bool:
        """Whether it names a continent, country or subdivision."""
        return (self.continent, self.country, self.subdivision) != (None, None, None)

    def geo_rank(self, loc: Location) -> int | None:
        """How specifically this geolocation record matches ``loc``: 3
        subdivision, 2 country, 1 continent, 0 default; None: no match."""
        if not self.geo_rank_fields():
            return 0
        keys = (self.subdivision, self.country, self.continent)
        for rank, mine, theirs in zip(
            (3, 2, 1), keys, (loc.subdivision, loc.country, loc.continent), strict=True
        ):
            if mine is not None:
                return rank if mine == theirs else None
        return None


class DnsHealthCheck(Frozen):
    """Route 53 health checks of every record's region: ``checkers`` checkers
    each probe every ``interval`` (10 or 30 s); a checker changes its verdict
    after ``failure_threshold`` consecutive contrary results; a record is
    healthy while more than 18% of the checkers say healthy."""

    interval: PositiveDuration = Field(default=30.0, description="10s (fast) or 30s (standard)")
    failure_threshold: int = Field(
        default=3, ge=1, le=10, description="consecutive results that change a checker's verdict"
    )
    checkers: int = Field(
        default=8, ge=1, le=64, description="health checkers (Route 53 regions checking)"
    )

    @field_validator("interval")
    @classmethod
    def _route53_intervals(cls, interval: float) -> float:
        if interval not in (10.0, 30.0):
            raise ValueError(f"Route 53 checks every 10s or 30s, not {interval:g}s")
        return interval


class Stale(Frozen):
    """Clients that ignore the TTL (browsers, JVMs caching forever)."""

    share: float = Field(ge=0, le=1, description="share of clients keeping an answer longer")
    hold: PositiveDuration = Field(description="how long they keep it")


class Dns(Frozen):
    """The DNS name of the service (see the module docstring)."""

    policy: Policy = Field(default="latency", description="Route 53 routing policy")
    ttl: Duration = Field(default=60.0, description="resolvers cache an answer this long")
    records: tuple[Record, ...] | None = Field(
        default=None,
        min_length=1,
        description="the records (default: one weight-1 record per region)",
    )
    health_check: DnsHealthCheck | None = Field(
        default=None, description="health checks of the records (default: none, always healthy)"
    )
    resolvers: int = Field(
        default=8,
        ge=1,
        le=100_000,
        description="caching resolvers per client location (clients spread over them)",
    )
    stale: Stale | None = Field(default=None, description="clients that keep answers longer")

    def records_of(self, regions: list[str]) -> tuple[Record, ...]:
        return self.records or tuple(Record(region=name) for name in regions)

    def problems(
        self, regions: list[str], locations: tuple[Location, ...]
    ) -> list[tuple[Loc, str]]:
        """Records naming unknown regions; fields the policy needs or ignores."""
        out: list[tuple[Loc, str]] = []
        records = self.records_of(regions)
        where: Loc = ("dns", "records")
        for i, record in enumerate(self.records or ()):
            if record.region not in regions:
                hint = did_you_mean(record.region, regions)
                out.append(((*where, i, "region"), f"unknown region {record.region!r}{hint}"))
            if record.role is not None and self.policy != "failover":
                out.append(((*where, i, "role"), "`role` is for the failover policy"))
            if record.geo_rank_fields() and self.policy != "geolocation":
                out.append(((*where, i), "continent/country/subdivision are for geolocation"))
        if self.policy == "failover":
            roles = [r.role for r in records]
            for role in ("primary", "secondary"):
                if roles.count(role) != 1:
                    out.append((where, f"the failover policy needs exactly one {role} record"))
            if self.health_check is None:
                out.append((("dns",), "the failover policy needs dns.health_check"))
        if self.policy == "geolocation":
            for i, loc in enumerate(locations):
                if not any(r.geo_rank(loc) is not None for r in records):
                    out.append(
                        (
                            ("clients", "locations", i),
                            f"location {loc.name!r} matches no geolocation record and there is "
                            "no default record (one without continent/country/subdivision)",
                        )
                    )
        return out
