"""``servers[].autoscale:``: target-tracking autoscaling of one pool.

``aws`` follows EC2 Auto Scaling / Application Auto Scaling target tracking:
scale out when the metric is above ``target`` for ``evaluation_periods``
periods in a row, scale in when it is below 90% of the target for
``scale_in_evaluation_periods``; the new capacity is
``ceil(instances × metric / target)``. ``hpa`` follows the Kubernetes
Horizontal Pod Autoscaler: the same formula every ``period`` (15 s), no
change while ``|metric / target − 1| ≤ tolerance``, a scale-down only to the
highest recommendation of the last ``stabilization_window`` (300 s), and at
most ``max(4, 100%)`` pods more per period. See docs/semantics.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lbsim.scenario.dists import Duration, Frozen, PositiveDuration

#: Per preset: period, evaluation periods out / in, scale-down stabilisation window.
PRESET_DEFAULTS: dict[str, tuple[float, int, int, float]] = {
    "aws": (60.0, 3, 15, 0.0),
    "hpa": (15.0, 1, 1, 300.0),
}


class Autoscale(Frozen):
    """Target tracking: hosts are preallocated up to ``max``; the pool's
    ``count`` is how many are running at the start."""

    preset: Literal["aws", "hpa"] = Field(
        default="aws",
        description="whose rules: aws (EC2/Application Auto Scaling target tracking) "
        "or hpa (Kubernetes Horizontal Pod Autoscaler)",
    )
    min: int = Field(default=1, ge=1, le=100_000, description="fewest running instances")
    max: int = Field(ge=1, le=100_000, description="most running instances (all preallocated)")
    metric: Literal["cpu", "requests_per_target", "queue"] = Field(
        description="cpu: mean % of workers busy over the counted instances; "
        "requests_per_target: requests sent to the pool per period per instance in service "
        "(ALBRequestCountPerTarget); queue: requests waiting per counted instance (backlog)"
    )
    target: float = Field(gt=0, description="value of the metric to keep (cpu: percent, 0-100]")
    period: PositiveDuration | None = Field(
        default=None,
        description="how often the metric is aggregated and evaluated (default: 60s aws, 15s hpa)",
    )
    evaluation_periods: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="periods in a row above the target before a scale-out (default: 3 aws, 1 hpa)",
    )
    scale_in_evaluation_periods: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="periods in a row below the scale-in threshold (aws: 90% of the target) "
        "before a scale-in (default: 15 aws, 1 hpa)",
    )
    scale_out_cooldown: Duration = Field(
        default=0.0, description="after a scale-out, no further scale-out for this long"
    )
    scale_in_cooldown: Duration = Field(
        default=0.0, description="after any scaling activity, no scale-in for this long"
    )
    warmup: Duration = Field(
        default=0.0,
        description="after it is in service, an instance is left out of the metric this long",
    )
    boot_time: Duration = Field(
        default=60.0, description="from launch until the instance registers with the balancer"
    )
    deregistration_delay: Duration = Field(
        default=300.0,
        description="a scaled-in instance drains (no new requests, in-flight ones finish) "
        "for at most this long, then is terminated (ALB default 300s)",
    )
    tolerance: float = Field(
        default=0.1, ge=0, lt=1, description="hpa: no change while |metric/target - 1| <= this"
    )
    stabilization_window: Duration | None = Field(
        default=None,
        description="hpa: scale down only to the highest recommendation of this last window "
        "(default: 300s hpa, 0 aws)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Autoscale:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        if self.metric == "cpu" and self.target > 100:
            raise ValueError(f"a cpu target is a percentage in (0, 100], not {self.target:g}")
        return self

    @property
    def period_s(self) -> float:
        return self.period if self.period is not None else PRESET_DEFAULTS[self.preset][0]

    @property
    def out_periods(self) -> int:
        n = self.evaluation_periods
        return n if n is not None else PRESET_DEFAULTS[self.preset][1]

    @property
    def in_periods(self) -> int:
        n = self.scale_in_evaluation_periods
        return n if n is not None else PRESET_DEFAULTS[self.preset][2]

    @property
    def window_s(self) -> float:
        w = self.stabilization_window
        return w if w is not None else PRESET_DEFAULTS[self.preset][3]
