"""``clients.sessions:``, ``balancer.sticky:`` and ``session_store:``.

A session is a user's sequence of requests, closed loop: the next request
leaves ``think`` seconds after the previous answer (or failure). Sessions
arrive as ``clients.arrivals`` says (open loop of sessions). Where a
session's state lives decides what a lost host costs: on the server that
served it (kept there by ``sticky``) or in a shared ``session_store``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lbsim.scenario.dists import Distribution, Exponential, Frozen
from lbsim.scenario.models.events import RandomDuration
from lbsim.scenario.models.servers import Name

Count = Annotated[int, Field(ge=1, le=100_000)]
STORE_ACTIONS = ("crash", "recover", "hang", "slow", "error_rate")  # timeline actions of a store


class Sessions(Frozen):
    """Each arrival of ``clients.arrivals`` starts a session of ``requests``
    requests (a number, or a distribution rounded to the nearest whole number,
    at least 1), from one client drawn uniformly from the population."""

    requests: Count | Distribution = Field(
        description="requests per session: a number or a distribution (rounded, at least 1)"
    )
    think: RandomDuration = Field(
        description="from an answer to the session's next request (a bare duration: exponential)"
    )


class Cookie(Frozen):
    """Cookie persistence: the first answer sets cookie ``cookie`` naming its
    server; later requests go there while it is healthy and not drained
    (HAProxy ``cookie``, NGINX ``sticky cookie``, ALB ``lb_cookie``)."""

    cookie: Name = Field(description="the cookie's name (SERVERID in HAProxy's examples)")


Sticky = Literal["source_ip"] | Cookie


class SessionStore(Frozen):
    """A shared station every request visits after its server's work: session
    state lives here, so a request may land on any server without losing it.
    It has its own ``workers`` and ``service`` time, can saturate (``queue_limit``)
    and can fail on the timeline (target ``name``); when it fails, the server
    answers 5xx (``server_error``)."""

    name: Name = Field(default="store", description="its name on the timeline (events target it)")
    workers: int = Field(
        default=1,
        ge=1,
        le=100_000,
        description="requests served at once (default 1: Redis runs commands on one thread)",
    )
    service: Distribution = Field(
        default=Exponential(dist="exponential", mean=0.001),
        description="time per request in the store, network included (default exponential 1 ms)",
    )
    queue_limit: int | None = Field(
        default=None, ge=0, description="waiting requests beyond which the store refuses (5xx)"
    )
