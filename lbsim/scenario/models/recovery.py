"""``recovery:``: when a trigger acts, so the summary can say how long recovery took."""

from __future__ import annotations

from pydantic import Field, model_validator

from lbsim.scenario.dists import Frozen, PositiveDuration


class Recovery(Frozen):
    """The trigger of a metastability experiment (a load spike, a slow
    dependency) acts from ``trigger_start`` to ``trigger_end``; the summary's
    ``recovery_time`` is how long after ``trigger_end`` p99 latency and
    goodput are back within ``tolerance`` of what they were before
    ``trigger_start`` (after the warm-up), in windows of ``window``."""

    trigger_start: PositiveDuration
    trigger_end: PositiveDuration
    window: PositiveDuration = Field(default=1.0, description="length of the measured windows")
    tolerance: float = Field(default=0.1, gt=0, lt=1, description="relative: 0.1 = within 10 %")

    @model_validator(mode="after")
    def _ordered(self) -> Recovery:
        if self.trigger_end <= self.trigger_start:
            raise ValueError("trigger_end must be after trigger_start")
        return self
