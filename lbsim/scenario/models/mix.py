"""``clients.mix:``: request classes, each drawn with its ``share``."""

from __future__ import annotations

from pydantic import Field

from lbsim.scenario.dists import Distribution, Frozen, PositiveDuration
from lbsim.scenario.models.servers import Name


class RequestClass(Frozen):
    """A kind of request: its share of arrivals, the path and host a route
    matches on, and its own service demand and timeout (default: the
    clients')."""

    name: Name = Field(description="the class's name (request_class column, demand stream)")
    share: float = Field(gt=0, le=1, description="fraction of requests; shares sum to 1")
    path: str = Field(
        default="/", pattern=r"^/", max_length=256, description="the path routes match on"
    )
    host: str | None = Field(
        default=None, min_length=1, max_length=256, description="the host routes match on"
    )
    service: Distribution | None = Field(default=None, description="default: clients.service")
    timeout: PositiveDuration | None = Field(default=None, description="default: clients.timeout")
