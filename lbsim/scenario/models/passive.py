"""``balancer.passive:``: passive checks (outlier detection), one model per preset."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lbsim.scenario.dists import Frozen, PositiveDuration


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
