"""``report:``: what the summary of a run shows first."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from lbsim.analysis.metrics import METRICS
from lbsim.scenario.dists import Frozen
from lbsim.scenario.errors import did_you_mean


def _known(name: str) -> str:
    if name not in METRICS:
        hint = did_you_mean(name, list(METRICS))
        raise ValueError(f"unknown metric {name!r}{hint} (allowed: {', '.join(METRICS)})")
    return name


#: A summary metric of the catalogue (:data:`lbsim.analysis.metrics.METRICS`).
MetricName = Annotated[str, AfterValidator(_known), Field(json_schema_extra={"enum": [*METRICS]})]


class Report(Frozen):
    """How a run's results are presented (never what is simulated)."""

    metrics: tuple[MetricName, ...] | None = Field(
        default=None,
        description="summary metrics the scenario is about: the terminal table always shows "
        "them, after goodput, errors and p99 (default: from what the scenario enables, e.g. "
        "detection delays and conn_error_rate with failures, retry_amplification with retries)",
    )
