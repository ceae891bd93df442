"""``balancer.cpu:`` and ``balancer.tls:``: the balancer's own capacity.

Each balancer instance is a station with ``workers`` cores (FCFS). Every new
connection costs ``connection_cost`` of one core; ``balancer.layer: 7`` adds
``request_cost`` per request (parse and route). Defaults come from published
figures (docs/semantics.md "Balancer CPU and TLS"): HAProxy forwarded 2.04 M
HTTP requests/s on 64 Graviton2 cores, about 32 k per core, so ~30 µs per
request; a full ECDHE-ECDSA P-256 handshake costs 0.5 ms (NGINX sizing
guide: over 2,000 full handshakes per second per core). Connection and
resumed-handshake costs are assumptions, stated there.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lbsim.scenario.dists import Duration, Frozen

FULL_HANDSHAKE = 0.0005  # s/core: > 2,000 ECDHE-ECDSA full handshakes/s/core (NGINX sizing guide)
RESUMED_HANDSHAKE = 0.00005  # s/core: assumption, a tenth of a full one (no signature, no ECDH)
L7_REQUEST = 0.00003  # s/core: HAProxy 2.04 M req/s on 64 cores ≈ 32 k req/s/core
CONNECTION = 0.000005  # s/core: accept + close of one TCP connection (assumption)


class BalancerCpu(Frozen):
    """The CPU of each balancer instance: ``workers`` cores; requests queue
    (FCFS) when it saturates."""

    workers: int = Field(default=1, ge=1, le=1024, description="cores")
    connection_cost: Duration = Field(default=CONNECTION, description="core-seconds per connection")
    request_cost: Duration = Field(
        default=L7_REQUEST, description="core-seconds per request (balancer.layer 7 only)"
    )


class Tls(Frozen):
    """TLS on the client side of the balancer.

    ``terminate``: the balancer does the handshake of each new connection
    (``full_handshake`` or, for a ``resumption`` fraction, ``resumed_handshake``
    core-seconds) and the client waits ``round_trips`` × ``rtt`` more;
    ``reencrypt``: as terminate, and the balancer also opens a TLS connection
    to the backend: a full handshake on both the balancer and the server;
    ``passthrough``: the balancer forwards bytes (layer 4) and the server does
    the handshake (its cost is added to the request's service)."""

    mode: Literal["terminate", "reencrypt", "passthrough"] = Field(
        default="terminate",
        description="terminate at the balancer, reencrypt to the servers too, or passthrough "
        "(layer 4: the servers do the handshake)",
    )
    full_handshake: Duration = FULL_HANDSHAKE
    resumed_handshake: Duration = RESUMED_HANDSHAKE
    resumption: float = Field(default=0.0, ge=0, le=1, description="fraction of resumed handshakes")
    rtt: Duration = Field(default=0.02, description="client-balancer round-trip time")
    round_trips: int = Field(default=1, ge=0, le=3, description="TLS 1.3: 1, TLS 1.2: 2")

    @model_validator(mode="after")
    def _costs(self) -> Tls:
        if self.resumed_handshake > self.full_handshake:
            raise ValueError("resumed_handshake cannot cost more than full_handshake")
        return self
