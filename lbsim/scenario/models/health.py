"""``balancer.health_check:``: active health checks and their presets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from lbsim.scenario.dists import Duration, Frozen, PositiveDuration

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

    preset: Literal["alb", "haproxy", "envoy"] = Field(
        default="alb", description="whose defaults and rules: alb, haproxy or envoy"
    )
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
