"""``clients.retries:``: which outcomes are retried, back-off and budget."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lbsim.scenario.dists import Frozen, PositiveDuration

Outcome = Literal["rejected", "no_backend", "conn_error", "server_error", "timeout"]


class Backoff(Frozen):
    """The wait before retry N (N = 1, 2, ...), capped at ``max`` (default 10 x base).

    ``envoy`` (the default): uniform in ``[0, min(max, (2^N - 1) * base))``
    (router filter, x-envoy-max-retries). The others are the AWS Architecture
    Blog's "Exponential Backoff and Jitter" (Brooker, 2015) with
    ``e = min(max, base * 2^N)``: ``none`` waits ``e`` (plain exponential),
    ``full`` uniform in ``[0, e)``, ``equal`` ``e/2`` plus uniform in
    ``[0, e/2)``, ``decorrelated`` ``min(max, uniform in [base, 3 * previous))``
    with previous = base before the first retry."""

    base: PositiveDuration = 0.025
    max: PositiveDuration | None = Field(
        default=None, description="longest back-off (default: 10 × base, as Envoy)"
    )
    jitter: Literal["envoy", "none", "full", "equal", "decorrelated"] = Field(
        default="envoy",
        description="how the wait is drawn (see Backoff): envoy, none, full, equal, decorrelated",
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

    max: int = Field(default=1, ge=0, le=63, description="retries after the first attempt")
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
