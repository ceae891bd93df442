"""``clients.retries:``: which outcomes are retried, back-off and budget."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lbsim.scenario.dists import Frozen, PositiveDuration

Outcome = Literal["rejected", "no_backend", "conn_error", "server_error", "timeout"]


class Backoff(Frozen):
    """Envoy's retry back-off: before retry N wait a uniform time in
    ``[0, (2^N - 1) * base)``, capped at ``max`` (default 10 x base)."""

    base: PositiveDuration = 0.025
    max: PositiveDuration | None = Field(
        default=None, description="longest back-off (default: 10 × base, as Envoy)"
    )

    @property
    def cap(self) -> float:
        return self.max if self.max is not None else 10 * self.base


class RetryBudget(Frozen):
    """Envoy's retry budget: retries in flight may not exceed ``percent`` of
    the active requests, but ``min_concurrency`` are always allowed."""

    percent: float = Field(
        default=20.0,
        ge=0,
        le=100,
        description="retries in flight at most this % of the active requests",
    )
    min_concurrency: int = Field(
        default=3, ge=0, description="retries always allowed up to this many in flight"
    )


class Retries(Frozen):
    """Retrying failed attempts (Envoy's router defaults where it has them)."""

    max: int = Field(default=1, ge=0, le=15, description="retries after the first attempt")
    retry_on: tuple[Outcome, ...] = Field(
        default=("conn_error", "server_error", "rejected", "timeout"),
        description="outcomes that are retried (Envoy 5xx, reset, connect-failure)",
    )
    backoff: Backoff = Field(
        default=Backoff(), description="wait between attempts (Envoy back-off)"
    )
    budget: RetryBudget | None = Field(
        default=None,
        description="cap on retries as a share of active requests (Envoy retry budget)",
    )
    redispatch: bool | Literal["last"] = Field(
        default=True,
        description="true: every retry is balanced anew (Envoy); last: retries go to the "
        "same server and only the last one is balanced anew (HAProxy `option redispatch`, "
        "interval -1); false: always the same server (HAProxy without redispatch)",
    )
