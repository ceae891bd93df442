"""``balancer.passive:``: passive checks (outlier detection), one model per preset."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lbsim.scenario.dists import Frozen, PositiveDuration


class NginxPassive(Frozen):
    """NGINX ``max_fails``/``fail_timeout``: after ``max_fails`` failed attempts
    (errors and timeouts) a server is not chosen for ``fail_timeout``; a
    success clears the count (defaults 1 and 10 s, ngx_http_upstream_module)."""

    preset: Literal["nginx"] = Field(description="NGINX max_fails / fail_timeout")
    max_fails: int = Field(
        default=1,
        ge=1,
        description="failed attempts within fail_timeout that make a server unavailable",
    )
    fail_timeout: PositiveDuration = 10.0


class HaproxyPassive(Frozen):
    """HAProxy ``observe layer7`` with ``error-limit`` consecutive errors
    triggering ``on-error`` (defaults 10 and fail-check; configuration.txt):
    ``fail-check`` counts as a failed health check, ``sudden-death`` leaves
    one more failed check to mark the server down, ``mark-down`` marks it down
    at once. Needs active checks with the haproxy preset."""

    preset: Literal["haproxy"] = Field(
        description="HAProxy observe layer7 with error-limit and on-error"
    )
    error_limit: int = Field(
        default=10,
        ge=1,
        description="consecutive errors before on_error acts (HAProxy error-limit)",
    )
    on_error: Literal["fail-check", "sudden-death", "mark-down"] = Field(
        default="fail-check", description="what reaching error_limit does (HAProxy on-error)"
    )


class EnvoyOutlier(Frozen):
    """Envoy outlier detection (outlier_detection.proto defaults): eject a host
    after ``consecutive_5xx`` errors in a row (and, if enforced, after
    ``consecutive_gateway_failure`` connect errors/timeouts/503s), and each
    ``interval`` by success rate (below mean − factor·stdev, among hosts with
    enough requests) and, if enforced, by failure percentage. Ejected for
    ``base_ejection_time`` × times ejected (capped at ``max_ejection_time``),
    returned at an interval tick; at most ``max_ejection_percent`` of hosts
    are ejected, but always at least one may be."""

    preset: Literal["envoy"] = Field(description="Envoy outlier detection")
    consecutive_5xx: int = Field(
        default=5, ge=1, description="server errors in a row that eject a host"
    )
    consecutive_gateway_failure: int = Field(
        default=5, ge=1, description="connect errors, timeouts and 503s in a row that eject a host"
    )
    enforcing_consecutive_gateway_failure: float = Field(
        default=0.0, ge=0, le=100, description="% chance a gateway-failure ejection is enforced"
    )
    interval: PositiveDuration = 10.0
    base_ejection_time: PositiveDuration = 30.0
    max_ejection_time: PositiveDuration = 300.0
    max_ejection_percent: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="at most this % of hosts ejected at once (at least one may be)",
    )
    enforcing_success_rate: float = Field(
        default=100.0, ge=0, le=100, description="% chance a success-rate ejection is enforced"
    )
    success_rate_minimum_hosts: int = Field(
        default=5, ge=1, description="hosts with enough requests needed for success-rate ejection"
    )
    success_rate_request_volume: int = Field(
        default=100, ge=1, description="requests in an interval for a host to count"
    )
    success_rate_stdev_factor: float = Field(
        default=1.9, ge=0, description="eject below mean − factor × stdev of the success rates"
    )
    enforcing_failure_percentage: float = Field(
        default=0.0, ge=0, le=100, description="% chance a failure-percentage ejection is enforced"
    )
    failure_percentage_threshold: float = Field(
        default=85.0,
        ge=0,
        le=100,
        description="eject a host whose failure % in an interval reaches this",
    )
    failure_percentage_minimum_hosts: int = Field(
        default=5, ge=1, description="hosts with enough requests needed for failure-% ejection"
    )
    failure_percentage_request_volume: int = Field(
        default=50, ge=1, description="requests in an interval for a host to count"
    )


PassiveCheck = Annotated[
    NginxPassive | HaproxyPassive | EnvoyOutlier, Field(discriminator="preset")
]
