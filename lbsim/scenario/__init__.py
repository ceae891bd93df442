"""Scenario files: the validated, typed model of what to simulate.

Every default lives here, once. A file is read with positions
(:mod:`lbsim.scenario.source`), overridden by ``--set path=value`` pairs, validated
by the pydantic models below, and expanded into variants: one fully resolved
:class:`Scenario` per combination of the ``compare:`` lists, all with the same
seed and so the same workload. Problems are collected, not raised one by one:
:class:`ScenarioError` carries every ``file:line:col: field.path: message``.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import types
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from lbsim import algorithms
from lbsim.scenario.dists import Distribution, Duration, Frozen, PositiveDuration
from lbsim.scenario.source import Marks, YamlError, parse
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
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=64)]


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


Outcome = Literal["rejected", "no_backend", "conn_error", "server_error", "timeout"]


class Backoff(Frozen):
    """Envoy's retry back-off: before retry N wait a uniform time in
    ``[0, (2^N - 1) * base)``, capped at ``max`` (default 10 x base)."""

    base: PositiveDuration = 0.025
    max: PositiveDuration | None = None

    @property
    def cap(self) -> float:
        return self.max if self.max is not None else 10 * self.base


class RetryBudget(Frozen):
    """Envoy's retry budget: retries in flight may not exceed ``percent`` of
    the active requests, but ``min_concurrency`` are always allowed."""

    percent: float = Field(default=20.0, ge=0, le=100)
    min_concurrency: int = Field(default=3, ge=0)


class Retries(Frozen):
    """Retrying failed attempts (Envoy's router defaults where it has them)."""

    max: int = Field(default=1, ge=0, le=15, description="retries after the first attempt")
    retry_on: tuple[Outcome, ...] = Field(
        default=("conn_error", "server_error", "rejected", "timeout"),
        description="outcomes that are retried (Envoy 5xx, reset, connect-failure)",
    )
    backoff: Backoff = Backoff()
    budget: RetryBudget | None = None
    redispatch: bool | Literal["last"] = Field(
        default=True,
        description="true: every retry is balanced anew (Envoy); last: retries go to the "
        "same server and only the last one is balanced anew (HAProxy `option redispatch`, "
        "interval -1); false: always the same server (HAProxy without redispatch)",
    )


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


def did_you_mean(word: str, options: list[str]) -> str:
    """``"; did you mean 'workers'?"`` for a near miss, else ``""``."""
    prefixed = [o for o in options if o.startswith(word) or word.startswith(o)] if word else []
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5) or prefixed[:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def _algorithm_name(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


class AlgorithmChoice(BaseModel):
    """An algorithm by name, with its own parameters beside the name:
    ``round_robin`` or ``{name: power_of_two, choices: 3}``."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str

    @model_validator(mode="after")
    def _known(self) -> AlgorithmChoice:
        try:
            spec = algorithms.get(self.name)
        except KeyError:
            known = ", ".join(algorithms.available())
            hint = did_you_mean(self.name, list(algorithms.available()))
            raise ValueError(f"unknown algorithm {self.name!r}{hint} (known: {known})") from None
        try:
            spec.params.model_validate(self.model_extra or {})
        except ValidationError as err:
            details = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in err.errors()
            )
            raise ValueError(f"{self.name}: {details}") from None
        return self

    def params(self) -> algorithms.Params:
        """The algorithm's validated parameter model."""
        return algorithms.get(self.name).params.model_validate(self.model_extra or {})

    def label(self) -> str:
        """``power_of_two`` or ``power_of_two(choices=3)``."""
        return _label(self.model_dump())


def _algorithm_schema() -> dict[str, Any]:
    names = list(algorithms.BUILTIN_NAMES)
    described = {"type": "string", "examples": names, "description": "a registered algorithm"}
    return {
        "anyOf": [
            described,
            {
                "type": "object",
                "properties": {"name": described},
                "required": ["name"],
                "additionalProperties": True,
                "description": "name plus the algorithm's own parameters",
            },
        ]
    }


def _exponential_if_bare(value: object) -> object:
    """A bare duration in a random-time field means exponential with that mean."""
    return {"dist": "exponential", "mean": value} if isinstance(value, str | int | float) else value


RandomDuration = Annotated[Distribution, BeforeValidator(_exponential_if_bare)]

# What each health-check preset changes, written once: (field -> value).
HEALTH_PRESETS: dict[str, dict[str, Any]] = {
    # AWS ALB target-group defaults (target-group-health-checks docs)
    "alb": {"interval": 30.0, "timeout": 5.0, "unhealthy_threshold": 2, "healthy_threshold": 5},
    # HAProxy: inter 2000ms, rise 2, fall 3, timeout check = inter (defaults.h, configuration.txt)
    "haproxy": {"interval": 2.0, "timeout": 2.0, "unhealthy_threshold": 3, "healthy_threshold": 2},
    # Envoy has no defaults for these (required fields); common values from its docs' examples
    "envoy": {
        "interval": 5.0,
        "timeout": 1.0,
        "unhealthy_threshold": 3,
        "healthy_threshold": 2,
        "no_traffic_interval": 60.0,
    },
}


class HealthCheck(Frozen):
    """Active health checks: the balancer probes every backend.

    ``preset`` picks the counting rule and default values: ``alb``
    (consecutive failures / successes; a new target must pass one check),
    ``haproxy`` (the rise/fall health counter, starting as ``initial_state``
    says; by default at ``rise``, so one failed first check marks a server
    down) or ``envoy`` (consecutive counts; one success suffices at
    start-up). Explicit fields override the preset. HAProxy and Envoy also
    change the interval with the state (``fastinter``/``downinter``; the
    ``*_interval`` fields of Envoy's ``health_check.proto``).
    """

    preset: Literal["alb", "haproxy", "envoy"] = "alb"
    interval: PositiveDuration | None = Field(default=None, description="between probes")
    timeout: PositiveDuration | None = Field(default=None, description="a probe fails after this")
    unhealthy_threshold: int | None = Field(default=None, ge=1, description="HAProxy `fall`")
    healthy_threshold: int | None = Field(default=None, ge=1, description="HAProxy `rise`")
    jitter: float = Field(
        default=0.0, ge=0, le=1, description="random extra wait, as a fraction of the interval"
    )
    through_queue: bool = Field(
        default=False,
        description="probes wait in the server's queue like requests (overload fails them)",
    )
    probe_demand: PositiveDuration = Field(default=0.001, description="work of one probe")
    fastinter: PositiveDuration | None = Field(
        default=None, description="HAProxy: interval while in transition (default: interval)"
    )
    downinter: PositiveDuration | None = Field(
        default=None, description="HAProxy: interval while fully down (default: interval)"
    )
    initial_state: Literal["fully-up", "up", "down", "fully-down"] = Field(
        default="up", description="HAProxy init-state: where the health counter starts"
    )
    unhealthy_interval: PositiveDuration | None = Field(
        default=None, description="Envoy: interval while unhealthy (default: interval)"
    )
    unhealthy_edge_interval: PositiveDuration | None = Field(
        default=None, description="Envoy: interval right after turning unhealthy"
    )
    healthy_edge_interval: PositiveDuration | None = Field(
        default=None, description="Envoy: interval right after turning healthy"
    )
    initial_jitter: Duration = Field(
        default=0.0, description="Envoy: the first check waits up to this (uniform)"
    )
    no_traffic_interval: PositiveDuration | None = Field(
        default=None,
        description="Envoy: interval until the balancer has sent any request (Envoy default 60s)",
    )

    @model_validator(mode="after")
    def _apply_preset(self) -> HealthCheck:
        for key, value in HEALTH_PRESETS[self.preset].items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        owners = {
            "haproxy": ("fastinter", "downinter"),
            "envoy": (
                "unhealthy_interval",
                "unhealthy_edge_interval",
                "healthy_edge_interval",
                "no_traffic_interval",
            ),
        }
        for preset, keys in owners.items():
            stray = [k for k in keys if getattr(self, k) is not None and self.preset != preset]
            if stray:
                raise ValueError(f"{', '.join(stray)} only apply to preset {preset}")
        if self.initial_state != "up" and self.preset != "haproxy":
            raise ValueError("initial_state only applies to preset haproxy")
        if self.initial_jitter and self.preset != "envoy":
            raise ValueError("initial_jitter only applies to preset envoy")
        assert self.timeout is not None and self.interval is not None
        if self.preset == "alb" and self.timeout >= self.interval:
            raise ValueError(
                f"timeout ({self.timeout:g}s) must be shorter than interval "
                f"({self.interval:g}s), as ALB requires"
            )
        return self

    @property
    def rise(self) -> int:
        assert self.healthy_threshold is not None
        return self.healthy_threshold

    @property
    def fall(self) -> int:
        assert self.unhealthy_threshold is not None
        return self.unhealthy_threshold

    @property
    def period(self) -> float:
        assert self.interval is not None
        return self.interval

    @property
    def limit(self) -> float:
        assert self.timeout is not None
        return self.timeout


class NginxPassive(Frozen):
    """NGINX ``max_fails``/``fail_timeout``: after ``max_fails`` failed attempts
    (errors and timeouts) a server is not chosen for ``fail_timeout``; a
    success clears the count (defaults 1 and 10 s, ngx_http_upstream_module)."""

    preset: Literal["nginx"]
    max_fails: int = Field(default=1, ge=1)
    fail_timeout: PositiveDuration = 10.0


class HaproxyPassive(Frozen):
    """HAProxy ``observe layer7`` with ``error-limit`` consecutive errors
    triggering ``on-error`` (defaults 10 and fail-check; configuration.txt):
    ``fail-check`` counts as a failed health check, ``sudden-death`` leaves
    one more failed check to mark the server down, ``mark-down`` marks it down
    at once. Needs active checks with the haproxy preset."""

    preset: Literal["haproxy"]
    error_limit: int = Field(default=10, ge=1)
    on_error: Literal["fail-check", "sudden-death", "mark-down"] = "fail-check"


class EnvoyOutlier(Frozen):
    """Envoy outlier detection (outlier_detection.proto defaults): eject a host
    after ``consecutive_5xx`` errors in a row (and, if enforced, after
    ``consecutive_gateway_failure`` connect errors/timeouts/503s), and each
    ``interval`` by success rate (below mean − factor·stdev, among hosts with
    enough requests) and, if enforced, by failure percentage. Ejected for
    ``base_ejection_time`` × times ejected (capped at ``max_ejection_time``),
    returned at an interval tick; at most ``max_ejection_percent`` of hosts
    are ejected, but always at least one may be."""

    preset: Literal["envoy"]
    consecutive_5xx: int = Field(default=5, ge=1)
    consecutive_gateway_failure: int = Field(default=5, ge=1)
    enforcing_consecutive_gateway_failure: float = Field(default=0.0, ge=0, le=100)
    interval: PositiveDuration = 10.0
    base_ejection_time: PositiveDuration = 30.0
    max_ejection_time: PositiveDuration = 300.0
    max_ejection_percent: float = Field(default=10.0, ge=0, le=100)
    enforcing_success_rate: float = Field(default=100.0, ge=0, le=100)
    success_rate_minimum_hosts: int = Field(default=5, ge=1)
    success_rate_request_volume: int = Field(default=100, ge=1)
    success_rate_stdev_factor: float = Field(default=1.9, ge=0)
    enforcing_failure_percentage: float = Field(default=0.0, ge=0, le=100)
    failure_percentage_threshold: float = Field(default=85.0, ge=0, le=100)
    failure_percentage_minimum_hosts: int = Field(default=5, ge=1)
    failure_percentage_request_volume: int = Field(default=50, ge=1)


PassiveCheck = Annotated[
    NginxPassive | HaproxyPassive | EnvoyOutlier, Field(discriminator="preset")
]


class SlowStart(Frozen):
    """A server that (re)enters service gets a share of its weight that grows
    over ``window`` (for algorithms that honour weights). ``envoy``:
    ``max(min_weight_percent, (t/window)^(1/aggression))`` of the weight
    (slow_start docs); ``haproxy``: ``(16·t + window)/window`` sixteenths, at
    each health check (server.c); ``alb``: linear from 0."""

    preset: Literal["envoy", "haproxy", "alb"] = "envoy"
    window: PositiveDuration
    aggression: float = Field(default=1.0, gt=0)
    min_weight_percent: float = Field(default=10.0, ge=0, le=100)


class Balancer(Frozen):
    """The load balancer in front of the servers."""

    algorithm: Annotated[
        AlgorithmChoice, BeforeValidator(_algorithm_name), WithJsonSchema(_algorithm_schema())
    ] = AlgorithmChoice(name="round_robin")
    health_check: HealthCheck | None = None
    passive: PassiveCheck | None = Field(
        default=None, description="passive checks: outlier detection from real traffic"
    )
    slow_start: SlowStart | None = None
    connect_timeout: PositiveDuration = Field(
        default=5.0,
        description="a request sent to a server that is down fails (conn_error) after this "
        "(Envoy connect_timeout default 5s)",
    )
    panic_threshold: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="below this healthy fraction route to all primaries (Envoy panic; 0 = off)",
    )
    fail_open: bool = Field(
        default=False, description="ALB: when no target is healthy, route to all of them"
    )
    all_backups: bool = Field(
        default=False,
        description="use every healthy backup server at once (HAProxy allbackups, NGINX), "
        "not only the first",
    )
    instances: int = Field(
        default=1, ge=1, le=256, description="balancer instances, named lb-0, lb-1, ..."
    )
    mode: Literal["active_active", "active_passive"] = Field(
        default="active_active",
        description="active_active: clients spread over instances by DNS round robin, each "
        "instance with its own view; active_passive: one instance serves, the next takes "
        "over `failover_time` after it fails (keepalived VRRP)",
    )
    failover_time: Duration = Field(
        default=3.0, description="takeover time of an active-passive pair (VRRP: 3 adverts)"
    )

    @model_validator(mode="after")
    def _combinations(self) -> Balancer:
        if self.slow_start is not None and self.algorithm.name in (
            "ip_hash",
            "consistent_hash",
            "ketama",
            "ring_hash",
            "maglev",
        ):
            raise ValueError(
                f"slow_start does not apply to {self.algorithm.name} "
                "(NGINX and Envoy allow it only with weighted algorithms)"
            )
        return self

    @model_validator(mode="after")
    def _haproxy_observe_needs_checks(self) -> Balancer:
        if isinstance(self.passive, HaproxyPassive) and (
            self.health_check is None or self.health_check.preset != "haproxy"
        ):
            raise ValueError("passive preset haproxy (observe) needs health_check preset haproxy")
        return self


class Crashes(Frozen):
    """Random crash/repair of each server of a pool: up for ``mtbf``, down for
    ``mttr``, alternating (a bare duration means exponential with that mean)."""

    mtbf: RandomDuration
    mttr: RandomDuration


class Faults(Frozen):
    """Random failures of each server of a pool."""

    crash: Crashes | None = None


class ServerPool(Frozen):
    """``count`` identical servers named ``<name>-0`` ... ``<name>-<count-1>``."""

    name: Name = "web"
    count: int = Field(default=1, ge=1, le=100_000)
    workers: int = Field(default=1, ge=1, description="requests served at once")
    queue_limit: int | None = Field(
        default=None, ge=0, description="waiting requests beyond which new ones are rejected"
    )
    speed: float = Field(default=1.0, gt=0, description="service time = demand / speed")
    weight: int = Field(default=1, ge=1, le=256, description="balancer weight (HAProxy 1-256)")
    backup: bool = Field(default=False, description="used only when no primary is available")
    faults: Faults | None = None


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
    target: str
    action: Action
    for_: PositiveDuration | None = Field(default=None, alias="for")
    factor: float | None = Field(default=None, gt=0)
    rate: float | None = Field(default=None, ge=0, le=1)
    weight: int | None = Field(default=None, ge=1, le=256)

    @model_validator(mode="after")
    def _parameters(self) -> TimelineEvent:
        needs = {"slow": "factor", "error_rate": "rate", "set_weight": "weight"}
        if self.action in needs and getattr(self, needs[self.action]) is None:
            raise ValueError(f"action {self.action} needs `{needs[self.action]}`")
        if self.for_ is not None and self.action in ("recover", "undrain", "set_weight"):
            raise ValueError(f"`for` makes no sense with action {self.action}")
        return self


class Sweep(Frozen):
    """Replications and a parameter grid that ``lbsim sweep`` runs by default."""

    replications: int = Field(default=1, ge=1, le=100_000)
    grid: dict[str, list[Any]] | None = Field(
        default=None, description="dotted path -> values, varied on top of `compare:`"
    )


class Scenario(Frozen):
    """A whole simulation: who sends what, through which balancer, to which servers."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="lbsim scenario")

    name: Name = "scenario"
    seed: int = Field(default=0, ge=0)
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
    clients: Clients
    balancer: Balancer = Balancer()
    servers: tuple[ServerPool, ...] = Field(min_length=1)
    compare: dict[str, list[Any]] | None = Field(
        default=None, description="dotted path -> values; every combination is a variant"
    )
    sweep: Sweep | None = None
    events: tuple[TimelineEvent, ...] = Field(default=(), description="scripted timeline")

    @field_validator("events")
    @classmethod
    def _known_targets(
        cls, events: tuple[TimelineEvent, ...], info: ValidationInfo
    ) -> tuple[TimelineEvent, ...]:
        servers = info.data.get("servers")
        if servers is None:
            return events
        names = [f"{pool.name}-{i}" for pool in servers for i in range(pool.count)]
        balancer = info.data.get("balancer")
        names += [f"lb-{i}" for i in range(balancer.instances if balancer else 1)]
        duration = info.data.get("duration")
        drain = info.data.get("drain")
        end = None if duration is None else duration + (duration if drain is None else drain)
        for event in events:
            if end is not None and event.at >= end:
                raise ValueError(f"event at {event.at:g}s is after the run ends ({end:g}s)")
            if event.target.startswith("lb-") and event.action not in ("crash", "recover"):
                raise ValueError(f"a balancer ({event.target}) can only crash and recover")
            if event.target not in names:
                hint = did_you_mean(event.target, names)
                raise ValueError(f"unknown target {event.target!r}{hint}")
        return events

    @field_validator("warmup")
    @classmethod
    def _warmup_before_end(cls, warmup: float, info: ValidationInfo) -> float:
        duration = info.data.get("duration")
        if duration is not None and warmup >= duration:
            raise ValueError(f"warmup ({warmup:g}s) must be shorter than duration ({duration:g}s)")
        return warmup

    @field_validator("servers")
    @classmethod
    def _distinct_pools(cls, servers: tuple[ServerPool, ...]) -> tuple[ServerPool, ...]:
        names = [pool.name for pool in servers]
        if len(set(names)) != len(names):
            raise ValueError(f"server pool names must be unique: {names}")
        if sum(pool.count for pool in servers) > 100_000:
            raise ValueError("at most 100000 servers in all")
        return servers

    @property
    def drain_time(self) -> float:
        return self.duration if self.drain is None else self.drain

    @property
    def sampling(self) -> float:
        return self.sample_interval or self.duration / 500

    def server_names(self) -> list[str]:
        return [f"{pool.name}-{i}" for pool in self.servers for i in range(pool.count)]


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, where it is and what is allowed."""

    file: str
    line: int | None
    col: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.col}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """Every problem found in a scenario (the CLI prints them and exits 2)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class Variant:
    """One combination of the ``compare:`` values, fully resolved."""

    name: str
    params: dict[str, Any]
    scenario: Scenario


@dataclass(frozen=True)
class Loaded:
    """A validated scenario file: the base scenario and its variants."""

    source: str
    base: Scenario
    variants: list[Variant] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes (or other types) an annotation may hold."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _unwrap(arg)]
    if origin in (tuple, list):
        return _unwrap(get_args(annotation)[0])
    return [annotation]


def _models_at(path: tuple[str | int, ...], data: Any) -> list[type[BaseModel]]:
    """Model classes that may sit at ``path`` of the scenario (for hints and
    path checks); a discriminated union is narrowed by the data's tag."""
    models: list[type[BaseModel]] = [Scenario]
    node = data
    for part in path:
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for model in models:
            info = model.model_fields.get(part)
            if info is None:
                continue
            for candidate in _unwrap(info.annotation):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    nxt.append(candidate)
        if isinstance(node, dict) and len(nxt) > 1:
            tagged = [m for m in nxt if _tag_matches(m, node)]
            nxt = tagged or nxt
        models = nxt
    return models


def _tag_matches(model: type[BaseModel], node: dict[str, Any]) -> bool:
    info = model.model_fields.get("dist")
    return info is not None and node.get("dist") in get_args(info.annotation)


def _path_exists(path: tuple[str | int, ...]) -> tuple[bool, str, list[str]]:
    """Whether a dotted path names a field of the schema; if not, the first
    unknown part and the keys allowed in its place."""
    models: list[type[BaseModel]] = [Scenario]
    for part in path:
        if isinstance(part, int):
            continue
        fields = {name: info for m in models for name, info in m.model_fields.items()}
        if part not in fields:
            if any(m.model_config.get("extra") == "allow" for m in models):
                return True, "", []
            return False, str(part), sorted(fields)
        models = [
            c
            for c in _unwrap(fields[part].annotation)
            if isinstance(c, type) and issubclass(c, BaseModel)
        ]
        if not models:
            return part == path[-1], str(part), []
    return True, "", []


def _split(path: str) -> tuple[str | int, ...]:
    return tuple(int(p) if p.isdigit() else p for p in path.split("."))


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        if isinstance(node, dict):
            if part not in node or node[part] is None:
                node[part] = {}
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(node, list):
            raise ValueError(f"index {part} is out of range ({len(node)} item(s))")
        else:
            raise ValueError(f"{_dotted(path[: depth + 1])} is not a mapping or list item")
    last = path[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value
    elif isinstance(node, list):
        raise ValueError(f"index {last} is out of range ({len(node)} item(s))")
    else:
        raise ValueError(f"cannot set {_dotted(path)}")


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[str | int, ...]:
    """A pydantic error location with union tags and validator names removed."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
        elif isinstance(node, dict) and part not in node and loc.index(part) == len(loc) - 1:
            pass  # a missing or unknown key at the end: keep it
        else:
            continue
        path.append(part)
    return tuple(path)


def _message(error: Any, path: tuple[str | int, ...], data: Any) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        allowed = sorted({k for m in _models_at(path[:-1], data) for k in m.model_fields})
        hint = did_you_mean(str(path[-1]), allowed)
        return f"unknown key {path[-1]!r}{hint} (allowed: {', '.join(allowed)})"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        tags = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
        hint = did_you_mean(str(ctx.get("tag")), tags)
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return f"unknown {field} {ctx.get('tag')!r}{hint} (allowed: {', '.join(tags)})"
    return str(msg).removeprefix("Value error, ")


def _position(marks: Marks, path: tuple[str | int, ...]) -> tuple[int | None, int | None]:
    for depth in range(len(path), 0, -1):
        if path[:depth] in marks:
            return marks[path[:depth]]
    return None, None


@dataclass(frozen=True)
class _Origin:
    """Where a value came from: the file at a path, or a command-line option."""

    where: str
    mark: tuple[str | int, ...] | None = None


def _validate(
    data: dict[str, Any],
    source: str,
    marks: Marks,
    base_dir: Path,
    origins: dict[tuple[str | int, ...], _Origin],
) -> tuple[Scenario | None, list[Problem]]:
    """Validate ``data``; a problem inside an overridden path is blamed on
    the origin of the override (``--set``, a ``compare:`` entry...)."""
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir}), []
    except ValidationError as err:
        problems = []
        errors = [(e, _data_path(e["loc"], data)) for e in err.errors()]
        for error, path in errors:
            if error["type"] == "too_short" and any(
                len(other) > len(path) and other[: len(path)] == path for _, other in errors
            ):
                continue  # a list emptied by its own invalid items: those are the news
            origin = next((o for p, o in origins.items() if path[: len(p)] == p), None)
            if origin is None:
                where, (line, col) = source, _position(marks, path)
            else:
                where = origin.where
                line, col = marks.get(origin.mark, (None, None)) if origin.mark else (None, None)
            message = _message(error, path, data)
            problems.append(Problem(where, line, col, _dotted(path) or "scenario", message))
        return None, problems


def _label(value: Any) -> str:
    """A short label for a varied value: ``haproxy(interval=500ms)`` for a
    mapping headed by a name-like key, ``k=v, ...`` for other mappings."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_label(v) for v in value) + "]"
    if not isinstance(value, dict):
        return str(value)
    head_key = next((k for k in ("name", "preset", "dist", "process") if k in value), None)
    rest = ", ".join(
        f"{k}({_label(v)})" if isinstance(v, dict) else f"{k}={_label(v)}"
        for k, v in value.items()
        if k != head_key
    )
    if head_key is None:
        return rest
    return f"{value[head_key]}({rest})" if rest else str(value[head_key])


def variant_name(values: dict[str, Any]) -> str:
    """``least_connections`` or ``round_robin / count=4``: mappings by their
    label, plain values as ``<last path segment>=<value>``."""

    def one(dotted: str, value: Any) -> str:
        if dotted.endswith("algorithm") or isinstance(value, dict):
            return _label(_algorithm_name(value) if dotted.endswith("algorithm") else value)
        return f"{dotted.rsplit('.', 1)[-1]}={value}"

    return " / ".join(one(k, v) for k, v in values.items())


def _axes(
    data: dict[str, Any], source: str, marks: Marks, grid: dict[str, list[Any]] | None
) -> tuple[list[tuple[str, list[Any], _Origin]], list[Problem]]:
    """The varied fields: ``compare:``, the file's ``sweep.grid`` and ``--grid``."""
    axes: list[tuple[str, list[Any], _Origin]] = []
    sweep = data.get("sweep") if isinstance(data.get("sweep"), dict) else {}
    for prefix, mapping in (
        (("compare",), data.get("compare")),
        (("sweep", "grid"), (sweep or {}).get("grid")),
    ):
        if isinstance(mapping, dict):
            axes += [(str(k), v, _Origin(source, (*prefix, k))) for k, v in mapping.items()]
    axes += [(k, v, _Origin("--grid")) for k, v in (grid or {}).items()]
    problems = []
    for dotted, values, origin in axes:
        exists, unknown, allowed = _path_exists(_split(dotted))
        label = _dotted(origin.mark) if origin.mark else dotted
        line, col = marks.get(origin.mark, (None, None)) if origin.mark else (None, None)
        if not exists:
            message = f"no such field{did_you_mean(unknown, allowed)}"
            problems.append(Problem(origin.where, line, col, label, message))
        elif not isinstance(values, list) or not values:
            problems.append(Problem(origin.where, line, col, label, "expected a non-empty list"))
    seen = [dotted for dotted, _, _ in axes]
    for dotted in {d for d in seen if seen.count(d) > 1}:
        problems.append(Problem(source, None, None, dotted, "varied in more than one place"))
    return axes, problems


def load(
    path: str | Path | None = None,
    *,
    text: str | None = None,
    data: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    grid: dict[str, list[Any]] | None = None,
) -> Loaded:
    """Read, validate and expand a scenario from a file, YAML text or a dict.

    ``overrides`` maps dotted paths to values (what ``--set`` does); ``grid``
    maps dotted paths to lists of values that are varied on top of
    ``compare:`` (what ``--grid`` does). Raises :class:`ScenarioError` with
    every problem found.
    """
    source = str(path) if path is not None else "<scenario>"
    marks: Marks = {}
    base_dir = Path(path).parent if path is not None else Path(".")
    if data is None:
        if text is None:
            assert path is not None
            text = _read(Path(path), source)
        try:
            data, marks = parse(text)
        except YamlError as err:
            raise ScenarioError([Problem(source, err.line, err.col, "", err.message)]) from None
    if data is None:
        raise ScenarioError(
            [Problem(source, 1, 1, "", "the file is empty; a scenario is a mapping")]
        )
    if not isinstance(data, dict):
        raise ScenarioError([Problem(source, 1, 1, "", "a scenario must be a mapping of keys")])
    data = copy.deepcopy(data)

    problems: list[Problem] = []
    origins: dict[tuple[str | int, ...], _Origin] = {}
    for dotted, value in (overrides or {}).items():
        key = _split(dotted)
        exists, unknown, allowed = _path_exists(key)
        if not exists:
            hint = did_you_mean(unknown, allowed)
            problems.append(Problem("--set", None, None, dotted, f"no such field{hint}"))
            continue
        try:
            _set(data, key, value)
            origins[key] = _Origin("--set")
        except ValueError as err:
            problems.append(Problem("--set", None, None, dotted, str(err)))

    axes, axis_problems = _axes(data, source, marks, grid)
    problems += axis_problems
    base, base_problems = _validate(data, source, marks, base_dir, origins)
    problems += base_problems
    if problems or base is None:
        raise ScenarioError(problems)

    variants = []
    for combo in itertools.product(*(values for _, values, _ in axes)):
        variant_data = copy.deepcopy(data)
        variant_data["compare"] = None
        variant_data.pop("sweep", None)
        params = {dotted: value for (dotted, _, _), value in zip(axes, combo, strict=True)}
        variant_origins = dict(origins)
        for (dotted, _, origin), value in zip(axes, combo, strict=True):
            _set(variant_data, _split(dotted), value)
            variant_origins[_split(dotted)] = origin
        scenario, variant_problems = _validate(
            variant_data, source, marks, base_dir, variant_origins
        )
        name = variant_name(params) if axes else base.name
        for problem in variant_problems:
            problem = replace(problem, message=f"{problem.message} (in variant {name})")
            if problem not in problems:
                problems.append(problem)
        if scenario is not None:
            variants.append(Variant(name, params, scenario))
    if problems:
        raise ScenarioError(problems)
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        variants = [Variant(f"{v.name} #{i}", v.params, v.scenario) for i, v in enumerate(variants)]
    return Loaded(source, base, variants, data)


def _read(path: Path, source: str) -> str:
    from lbsim.scenario.source import MAX_BYTES

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ScenarioError(
                [Problem(source, None, None, "", f"file is {size} bytes; the limit is 1 MB")]
            )
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(source, None, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError(
            [Problem(source, None, None, "", "is a directory, not a file")]
        ) from None
    except UnicodeDecodeError:
        raise ScenarioError([Problem(source, None, None, "", "not UTF-8 text")]) from None
    except OSError as err:
        raise ScenarioError([Problem(source, None, None, "", err.strerror or str(err))]) from None


def parse_override(assignment: str) -> tuple[str, Any]:
    """``"balancer.algorithm=random"`` -> ``("balancer.algorithm", "random")``;
    the value is read as YAML, so numbers, lists and ``{k: v}`` work."""
    if "=" not in assignment:
        raise ScenarioError(
            [Problem("--set", None, None, assignment, "expected path=value, e.g. seed=3")]
        )
    key, _, value = assignment.partition("=")
    try:
        return key.strip(), yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        return key.strip(), value


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (what ``lbsim schema`` prints)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def resolved(scenario: Scenario) -> dict[str, Any]:
    """A scenario with every default filled in, as plain JSON-able data."""
    return json.loads(scenario.model_dump_json(by_alias=True))
