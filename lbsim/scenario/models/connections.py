"""Connections: ``clients.connections`` (keep-alive, HTTP/2 streams, WebSockets)
and the balancer's ``connections`` limits (max lifetime, draining)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator

from lbsim.scenario.dists import (
    Deterministic,
    Distribution,
    Duration,
    Frozen,
    PositiveDuration,
    PositiveRate,
)
from lbsim.scenario.models.events import RandomDuration


def _deterministic_if_bare(value: object) -> object:
    """A bare number of requests means exactly that many."""
    return {"dist": "deterministic", "value": value} if isinstance(value, int | float) else value


RequestCount = Annotated[Distribution, BeforeValidator(_deterministic_if_bare)]


class KeepAlive(Frozen):
    """A client reuses an open connection for its next request. Each connection
    carries at most ``requests`` requests (drawn per connection, rounded up:
    NGINX ``keepalive_requests``, default 1000) and is closed after
    ``idle_timeout`` without one (ALB idle timeout, default 60 s)."""

    requests: RequestCount = Field(
        default=Deterministic(dist="deterministic", value=1000),
        description="requests per connection: a number or a distribution (rounded up)",
    )
    idle_timeout: PositiveDuration = Field(
        default=60.0, description="an idle connection is closed after this"
    )


class WebSocket(Frozen):
    """Long-lived connections: each arrival opens one (its upgrade request is
    the first request), which lives for ``duration`` (a bare duration means
    exponential with that mean) and carries messages at ``message_rate``
    (Poisson), each a request with the clients' service demand."""

    duration: RandomDuration = Field(
        description="how long a WebSocket stays open (a bare duration: exponential, that mean)"
    )
    message_rate: PositiveRate


class Connections(Frozen):
    """How clients use connections: HTTP keep-alive (``streams`` > 1: HTTP/2,
    that many concurrent requests per connection) or WebSockets."""

    keepalive: KeepAlive = Field(
        default=KeepAlive(), description="how many requests a connection carries, and idle close"
    )
    streams: int = Field(
        default=1,
        ge=1,
        le=10_000,
        description="concurrent requests per connection (1: HTTP/1.1; HTTP/2 "
        "SETTINGS_MAX_CONCURRENT_STREAMS, e.g. 100)",
    )
    websocket: WebSocket | None = Field(
        default=None, description="long-lived WebSocket connections instead of keep-alive"
    )

    @model_validator(mode="after")
    def _one_model(self) -> Connections:
        if self.websocket is not None and self.model_fields_set & {"keepalive", "streams"}:
            raise ValueError("give either `websocket` or `keepalive`/`streams`, not both")
        return self


class ConnectionLimits(Frozen):
    """What the balancer does to open connections: close them after
    ``max_lifetime`` (Envoy ``max_connection_duration``; gracefully: a busy
    connection closes when its requests end) and, when a backend is drained,
    close its connections after ``drain_timeout`` (ALB deregistration delay,
    default 300 s). Clients reconnect, through the balancer's algorithm."""

    max_lifetime: PositiveDuration | None = Field(
        default=None, description="connections are closed at this age (none: never)"
    )
    drain_timeout: Duration = Field(
        default=300.0, description="a drained backend's connections are closed after this"
    )
