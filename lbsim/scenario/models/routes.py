"""``pools:`` and ``balancer.routes:``: Layer-7 routing to several pools.

A route matches a request class by ``path_prefix`` or ``host`` (the first
route that matches wins; a route without ``match`` is the default route) and
sends it to a pool, with its own algorithm, health checks and passive checks
(each defaults to the balancer's). A pool is a set of server groups
(``servers[].name``), or a list of ``versions`` with traffic weights (Envoy
``weighted_clusters``, an 80/20 canary) and an optional automatic
``rollback`` rule. A route may also name a server group directly.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from lbsim.scenario import labels
from lbsim.scenario.dists import Frozen, PositiveDuration
from lbsim.scenario.models.balancer import AlgorithmChoice, Balancer, _algorithm_schema
from lbsim.scenario.models.health import HealthCheck
from lbsim.scenario.models.passive import PassiveCheck
from lbsim.scenario.models.servers import Name


class Match(Frozen):
    """What a route matches: a path prefix or a host name (exactly one)."""

    path_prefix: str | None = Field(
        default=None,
        pattern=r"^/",
        max_length=256,
        description="matches a request class whose path starts with this (/api)",
    )
    host: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="matches a request class with this host, case-insensitive (SNI at layer 4)",
    )

    @model_validator(mode="after")
    def _one(self) -> Match:
        if (self.path_prefix is None) == (self.host is None):
            raise ValueError("give exactly one of `path_prefix` or `host`")
        return self

    @property
    def catch_all(self) -> bool:
        """Whether it matches every request (``path_prefix: /``)."""
        return self.path_prefix == "/"

    def matches(self, path: str, host: str | None) -> bool:
        if self.path_prefix is not None:
            return path.startswith(self.path_prefix)
        return host is not None and host.lower() == (self.host or "").lower()


class Route(Frozen):
    """``{match: {path_prefix: /api}, pool: api}``; no ``match``: the default route."""

    match: Match | None = Field(
        default=None, description="what it matches (none: the default route, which goes last)"
    )
    pool: Name = Field(description="a pools[].name, or a server group (servers[].name)")
    algorithm: (
        Annotated[
            AlgorithmChoice,
            BeforeValidator(labels.algorithm_name),
            WithJsonSchema(_algorithm_schema()),
        ]
        | None
    ) = Field(default=None, description="default: the balancer's")
    health_check: HealthCheck | None = Field(default=None, description="default: the balancer's")
    passive: PassiveCheck | None = Field(default=None, description="default: the balancer's")

    @property
    def catch_all(self) -> bool:
        return self.match is None or self.match.catch_all


class Version(Frozen):
    """One version of a pool: its server groups, its traffic weight, and the
    fraction of requests its servers answer with a 5xx."""

    name: Name = Field(description="the version's name (shift events and the version column)")
    servers: tuple[Name, ...] = Field(min_length=1, description="server groups (servers[].name)")
    weight: float = Field(ge=0, le=100, description="traffic share in percent")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="5xx fraction of its servers")


class Rollback(Frozen):
    """Automatic rollback: when a canary version's error rate (failed attempts
    over attempts) over the trailing ``window`` exceeds ``error_rate``, with at
    least ``min_requests`` attempts in it, its weight goes to 0 (checked every
    ``window / 10``)."""

    error_rate: float = Field(
        gt=0, le=1, description="roll back when the trailing error rate is above this"
    )
    window: PositiveDuration = Field(default=60.0, description="the trailing window")
    min_requests: int = Field(
        default=20, ge=1, description="attempts the window needs before it can roll back"
    )


class Pool(Frozen):
    """A cluster: ``servers`` (server groups) or weighted ``versions``."""

    name: Name = Field(description="what routes name (not a server group's name)")
    servers: tuple[Name, ...] | None = Field(
        default=None, min_length=1, description="server groups (servers[].name)"
    )
    versions: tuple[Version, ...] | None = Field(
        default=None,
        min_length=1,
        description="weighted versions instead of servers (canary: Envoy weighted_clusters)",
    )
    rollback: Rollback | None = Field(
        default=None, description="send a failing canary version nothing more (versions only)"
    )

    @model_validator(mode="after")
    def _shape(self) -> Pool:
        if (self.servers is None) == (self.versions is None):
            raise ValueError("give exactly one of `servers` or `versions`")
        if self.versions is not None:
            names = [v.name for v in self.versions]
            if len(set(names)) != len(names):
                raise ValueError(f"version names must be unique: {names}")
            total = sum(v.weight for v in self.versions)
            if abs(total - 100) > 1e-9:
                raise ValueError(f"version weights must sum to 100, not {total:g}")
        if self.rollback is not None and (self.versions is None or len(self.versions) < 2):
            raise ValueError("`rollback` needs at least two versions")
        return self

    def groups(self) -> tuple[tuple[str, ...], ...]:
        """The server groups of each version (one 'version' for a plain pool)."""
        if self.versions is None:
            assert self.servers is not None
            return (self.servers,)
        return tuple(v.servers for v in self.versions)


Balancer.model_rebuild(_types_namespace={"Route": Route})
