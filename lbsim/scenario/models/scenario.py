"""The root :class:`Scenario`, its JSON Schema and its resolved form."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from lbsim.scenario.dists import Duration, Frozen, PositiveDuration
from lbsim.scenario.errors import did_you_mean
from lbsim.scenario.models.balancer import Balancer
from lbsim.scenario.models.clients import Clients
from lbsim.scenario.models.dns import Dns
from lbsim.scenario.models.events import TimelineEvent
from lbsim.scenario.models.recovery import Recovery
from lbsim.scenario.models.regions import Network, Region, region_problems
from lbsim.scenario.models.report import Report
from lbsim.scenario.models.routes import Pool
from lbsim.scenario.models.routing import routing_problems
from lbsim.scenario.models.servers import Name, ServerPool
from lbsim.scenario.models.sessions import STORE_ACTIONS, Cookie, SessionStore
from lbsim.scenario.models.sweep import Sweep


class Scenario(Frozen):
    """A whole simulation: who sends what, through which balancer, to which servers."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="lbsim scenario")

    name: Name = Field(
        default="scenario",
        description="names the report and the default output folder (reports/<name>)",
    )
    seed: int = Field(
        default=0,
        ge=0,
        description="root seed of every random stream: the same seed gives the same results",
    )
    duration: PositiveDuration = Field(description="arrivals stop after this much simulated time")
    warmup: Duration = Field(default=0.0, description="requests arriving earlier are not measured")
    drain: Duration | None = Field(
        default=None,
        description="time after `duration` for in-flight requests to finish "
        "(default: as long as `duration`); still unfinished ones count as `incomplete`",
    )
    sample_interval: PositiveDuration | None = Field(
        default=None, description="period of the time series (default: duration / 500)"
    )
    records: Literal["all", "sample", "none"] = Field(
        default="all",
        description="per-request rows kept: all, a deterministic sample (every 100th request) "
        "or none (summaries, latency histograms and time series only; an open-loop run of "
        "over a million requests then holds only the requests in flight)",
    )
    clients: Clients = Field(description="who sends requests, when, and what each costs")
    balancer: Balancer = Field(
        default=Balancer(), description="the load balancer in front of the servers"
    )
    servers: tuple[ServerPool, ...] = Field(min_length=1, description="server pools, at least one")
    pools: tuple[Pool, ...] = Field(
        default=(), description="clusters that routes send to (a route may also name a group)"
    )
    regions: tuple[Region, ...] = Field(
        default=(), description="regions, each a group of server groups behind its own balancers"
    )
    network: Network | None = Field(
        default=None, description="round trips from client locations to regions"
    )
    dns: Dns | None = Field(
        default=None, description="how clients find a region (default with regions: latency)"
    )
    session_store: SessionStore | None = Field(
        default=None, description="shared session state: a station every request visits"
    )
    compare: dict[str, list[Any]] | None = Field(
        default=None, description="dotted path -> values; every combination is a variant"
    )
    sweep: Sweep | None = Field(default=None, description="grid and replications for `lbsim sweep`")
    events: tuple[TimelineEvent, ...] = Field(default=(), description="scripted timeline")
    report: Report = Field(
        default=Report(), description="what the summary table shows (default: from what is enabled)"
    )
    recovery: Recovery | None = Field(
        default=None, description="when a trigger acts, so the summary can time the recovery"
    )

    @field_validator("events")
    @classmethod
    def _known_targets(
        cls, events: tuple[TimelineEvent, ...], info: ValidationInfo
    ) -> tuple[TimelineEvent, ...]:
        servers = info.data.get("servers")
        if servers is None:
            return events
        names = [f"{pool.name}-{i}" for pool in servers for i in range(pool.hosts)]
        versioned = {p.name: p for p in info.data.get("pools", ()) if p.versions is not None}
        balancer = info.data.get("balancer")
        regions = [r.name for r in info.data.get("regions", ())]
        instances = sum(r.instances for r in info.data.get("regions", ())) or (
            balancer.instances if balancer else 1
        )
        names += [f"lb-{i}" for i in range(instances)] + regions
        store = info.data.get("session_store")
        if store is not None:
            names.append(store.name)
        duration = info.data.get("duration")
        drain = info.data.get("drain")
        end = None if duration is None else duration + (duration if drain is None else drain)
        for event in events:
            if end is not None and event.at >= end:
                raise ValueError(f"event at {event.at:g}s is after the run ends ({end:g}s)")
            if event.action == "shift":
                pool = versioned.get(event.target)
                if pool is None:
                    hint = did_you_mean(event.target, list(versioned))
                    raise ValueError(f"shift: {event.target!r} is no pool with versions{hint}")
                assert pool.versions is not None
                if event.version not in [v.name for v in pool.versions]:
                    raise ValueError(f"shift: pool {pool.name} has no version {event.version!r}")
                continue
            if event.target.startswith("lb-") and event.action not in ("crash", "recover"):
                raise ValueError(f"a balancer ({event.target}) can only crash and recover")
            if event.target in regions and event.action not in ("crash", "recover"):
                raise ValueError(f"a region ({event.target}) can only crash and recover")
            if (
                store is not None
                and event.target == store.name
                and event.action not in STORE_ACTIONS
            ):
                allowed = ", ".join(STORE_ACTIONS)
                raise ValueError(f"the session store can only {allowed}, not {event.action}")
            if event.target not in names:
                hint = did_you_mean(event.target, names)
                raise ValueError(f"unknown target {event.target!r}{hint}")
        return events

    @model_validator(mode="after")
    def _routing(self) -> Scenario:
        problems = routing_problems(self) + region_problems(self)
        if problems:
            raise ValidationError.from_exception_data(
                "Scenario",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("value_error", "{text}", {"text": text}),
                        loc=loc,
                        input=None,
                    )
                    for loc, text in problems
                ],
            )
        return self

    @field_validator("session_store")
    @classmethod
    def _store_name_is_free(
        cls, store: SessionStore | None, info: ValidationInfo
    ) -> SessionStore | None:
        servers = info.data.get("servers") or ()
        names = [f"{pool.name}-{i}" for pool in servers for i in range(pool.hosts)]
        if store is not None and (store.name in names or store.name.startswith("lb-")):
            raise ValueError(f"the store's name {store.name!r} is taken by a server or balancer")
        return store

    @field_validator("balancer")
    @classmethod
    def _cookie_needs_sessions(cls, balancer: Balancer, info: ValidationInfo) -> Balancer:
        clients = info.data.get("clients")
        if isinstance(balancer.sticky, Cookie) and clients is not None and not clients.sessions:
            raise ValueError(
                "sticky: {cookie: ...} needs clients.sessions (a cookie lives in a session)"
            )
        return balancer

    @field_validator("balancer")
    @classmethod
    def _limits_need_connections(cls, balancer: Balancer, info: ValidationInfo) -> Balancer:
        clients = info.data.get("clients")
        if balancer.connections is not None and clients is not None and not clients.connections:
            raise ValueError("`connections` limits need clients.connections (a connection model)")
        return balancer

    @field_validator("warmup")
    @classmethod
    def _warmup_before_end(cls, warmup: float, info: ValidationInfo) -> float:
        duration = info.data.get("duration")
        if duration is not None and warmup >= duration:
            raise ValueError(f"warmup ({warmup:g}s) must be shorter than duration ({duration:g}s)")
        return warmup

    @field_validator("recovery")
    @classmethod
    def _trigger_inside_the_run(
        cls, recovery: Recovery | None, info: ValidationInfo
    ) -> Recovery | None:
        duration, warmup = info.data.get("duration"), info.data.get("warmup")
        if recovery is None or duration is None:
            return recovery
        if recovery.trigger_end >= duration:
            raise ValueError(f"trigger_end must be before the end of arrivals ({duration:g}s)")
        if warmup is not None and recovery.trigger_start <= warmup:
            raise ValueError(f"trigger_start must be after the warm-up ({warmup:g}s)")
        return recovery

    @field_validator("servers")
    @classmethod
    def _distinct_pools(
        cls, servers: tuple[ServerPool, ...], info: ValidationInfo
    ) -> tuple[ServerPool, ...]:
        names = [pool.name for pool in servers]
        if len(set(names)) != len(names):
            raise ValueError(f"server pool names must be unique: {names}")
        total = sum(pool.hosts for pool in servers)
        if total > 100_000:
            raise ValueError("at most 100000 servers in all")
        balancer = info.data.get("balancer")
        size = getattr(balancer.algorithm.params(), "table_size", None) if balancer else None
        if size is not None and size < total:  # a Maglev table holds every backend
            raise ValueError(f"{total} servers do not fit a table_size of {size}")
        return servers

    @property
    def drain_time(self) -> float:
        return self.duration if self.drain is None else self.drain

    @property
    def sampling(self) -> float:
        return self.sample_interval or self.duration / 500

    @property
    def instance_count(self) -> int:
        """Balancer instances in all: each region's, or ``balancer.instances``."""
        return sum(r.instances for r in self.regions) or self.balancer.instances

    def server_names(self) -> list[str]:
        return [f"{pool.name}-{i}" for pool in self.servers for i in range(pool.hosts)]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (what ``lbsim schema`` prints)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def resolved(scenario: Scenario) -> dict[str, Any]:
    """A scenario with every default filled in, as plain JSON-able data."""
    return json.loads(scenario.model_dump_json(by_alias=True))
