"""``balancer:``: the algorithm, checks, slow start and balancer instances."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from lbsim import algorithms
from lbsim.scenario import labels, numbers
from lbsim.scenario.dists import Duration, Frozen, PositiveDuration
from lbsim.scenario.errors import did_you_mean
from lbsim.scenario.models.capacity import BalancerCpu, Tls
from lbsim.scenario.models.connections import ConnectionLimits
from lbsim.scenario.models.health import HealthCheck
from lbsim.scenario.models.passive import HaproxyPassive, PassiveCheck
from lbsim.scenario.models.sessions import Cookie, Sticky

if TYPE_CHECKING:  # defined after Balancer, which is rebuilt there (routes name a pool)
    from lbsim.scenario.models.routes import Route

# Hash policies keep their mapping; NGINX and Envoy refuse slow start with them.
NO_SLOW_START = ("ip_hash", "consistent_hash", "ketama", "ring_hash", "maglev")


class AlgorithmChoice(BaseModel):
    """An algorithm by name, with its own parameters beside the name:
    ``round_robin`` or ``{name: power_of_two, choices: 3}``."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    name: str

    @model_validator(mode="after")
    def _known(self) -> AlgorithmChoice:
        try:
            spec = algorithms.get(self.name)
        except KeyError:
            known = ", ".join(algorithms.available())
            hint = did_you_mean(self.name, list(algorithms.available()))
            raise ValueError(f"unknown algorithm {self.name!r}{hint} (known: {known})") from None
        wrong = numbers.problems(spec.params, self.model_extra or {})
        if wrong:
            raise ValueError(f"{self.name}: {'; '.join(wrong)}")
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
        return labels.label(self.model_dump())


def _algorithm_schema() -> dict[str, Any]:
    names = list(algorithms.BUILTIN_NAMES)
    described = {
        "type": "string",
        "enum": names,
        "description": "a built-in algorithm (`lbsim algorithms` lists them; a plugin's name "
        "is accepted too, but only `lbsim schema` run where it is installed lists it)",
    }
    return {
        "description": "balancing algorithm: a name, or {name: ..., its own parameters}",
        "anyOf": [
            described,
            {
                "type": "object",
                "properties": {"name": described},
                "required": ["name"],
                "additionalProperties": True,
                "description": "name plus the algorithm's own parameters",
            },
        ],
    }


class SlowStart(Frozen):
    """A server that (re)enters service gets a share of its weight that grows
    over ``window`` (for algorithms that honour weights). ``envoy``:
    ``max(min_weight_percent, (t/window)^(1/aggression))`` of the weight
    (slow_start docs); ``haproxy``: ``(16·t + window)/window`` sixteenths, at
    each health check (server.c); ``alb``: linear from 0."""

    preset: Literal["envoy", "haproxy", "alb"] = Field(
        default="envoy", description="whose ramp: envoy, haproxy or alb"
    )
    window: PositiveDuration
    aggression: float = Field(
        default=1.0,
        gt=0,
        description="Envoy aggression: 1 is a linear ramp, larger is faster at first",
    )
    min_weight_percent: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="Envoy min_weight_percent: the ramp never starts below this % of the weight",
    )


class Subset(Frozen):
    """Each balancer instance talks to ``size`` of the hosts: ``deterministic``
    (Google SRE deterministic subsetting), ``random``, or ``aperture`` (Finagle
    deterministic aperture: a window of ``max(1/instances, size/hosts)`` of a
    shared ring)."""

    size: int = Field(ge=1, le=1_000_000, description="hosts per balancer instance")
    mode: Literal["deterministic", "random", "aperture"] = Field(
        default="deterministic", description="how each instance's subset is chosen"
    )


class Balancer(Frozen):
    """The load balancer in front of the servers."""

    algorithm: Annotated[
        AlgorithmChoice, BeforeValidator(labels.algorithm_name), WithJsonSchema(_algorithm_schema())
    ] = AlgorithmChoice(name="round_robin")
    health_check: HealthCheck | None = Field(
        default=None,
        description="active health checks (default: none, every server always in rotation)",
    )
    passive: PassiveCheck | None = Field(
        default=None, description="passive checks: outlier detection from real traffic"
    )
    slow_start: SlowStart | None = Field(
        default=None, description="ramp a (re)entering server's weight up over a window"
    )
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
    subset: Subset | None = Field(
        default=None, description="each instance sees only a subset of the hosts"
    )
    routes: tuple[Route, ...] | None = Field(
        default=None,
        min_length=1,
        description="layer-7 routes to pools, first match wins (default: one route to all servers)",
    )
    cpu: BalancerCpu | None = Field(
        default=None, description="the balancer's own CPU (default: infinitely fast)"
    )
    tls: Tls | None = Field(
        default=None, description="TLS termination, re-encryption or passthrough"
    )
    sticky: Sticky | None = Field(
        default=None,
        description="session persistence: {cookie: NAME} (any algorithm) or source_ip "
        "(a hashing algorithm keyed on the client address)",
    )
    layer: Literal[4, 7] = Field(
        default=7,
        description="4: a host is picked per connection, every request on it follows, and "
        "the load an algorithm sees is open connections (HAProxy mode tcp, NGINX stream); "
        "7: a host per request, the load is requests in flight (HAProxy mode http, Envoy, "
        "NGINX http). Matters with clients.connections, and for the balancer CPU: 4 pays "
        "only cpu.connection_cost, 7 also cpu.request_cost per request",
    )
    connections: ConnectionLimits | None = Field(
        default=None, description="max lifetime and draining of open connections"
    )

    @model_validator(mode="after")
    def _combinations(self) -> Balancer:
        if self.slow_start is not None and self.algorithm.name in NO_SLOW_START:
            raise ValueError(
                f"slow_start does not apply to {self.algorithm.name} "
                "(NGINX and Envoy allow it only with weighted algorithms)"
            )
        if self.sticky == "source_ip" and self.algorithm.name not in NO_SLOW_START:
            raise ValueError(
                f"sticky: source_ip needs a hashing algorithm ({', '.join(NO_SLOW_START)}); "
                f"{self.algorithm.name} ignores the client address (Envoy applies a source_ip "
                "hash policy only with ring_hash or maglev; NGINX's is ip_hash)"
            )
        opaque = self.layer == 4 or (self.tls is not None and self.tls.mode == "passthrough")
        if isinstance(self.sticky, Cookie) and opaque:
            raise ValueError(
                "sticky: {cookie: ...} needs layer 7: a layer-4 balancer (layer 4 or tls "
                "passthrough) cannot read cookies (HAProxy ignores `cookie` outside mode http); "
                "there a keep-alive connection pins its host (clients.connections), or use "
                "sticky: source_ip"
            )
        return self

    @model_validator(mode="after")
    def _haproxy_observe_needs_checks(self) -> Balancer:
        if isinstance(self.passive, HaproxyPassive) and (
            self.health_check is None or self.health_check.preset != "haproxy"
        ):
            raise ValueError("passive preset haproxy (observe) needs health_check preset haproxy")
        return self
