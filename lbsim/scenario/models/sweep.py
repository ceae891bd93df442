"""``sweep:``: replications and a parameter grid (``compare:`` is a plain mapping on the root)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from lbsim.scenario.dists import Frozen


class Sweep(Frozen):
    """Replications and a parameter grid that ``lbsim sweep`` runs by default."""

    replications: int = Field(
        default=1,
        ge=1,
        le=100_000,
        description="independent replications per grid point (paired seeds)",
    )
    grid: dict[str, list[Any]] | None = Field(
        default=None, description="dotted path -> values, varied on top of `compare:`"
    )
