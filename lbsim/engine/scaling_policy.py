"""Scaling decisions: from a metric's datapoints to a desired capacity.

Pure bookkeeping, no SimPy: :class:`~lbsim.engine.autoscaling.PoolScaler`
feeds one datapoint per ``period`` and applies the answer, and tests feed
scripted traces. Each datapoint is the metric averaged over the ``counted``
instances (in service and past their warm-up), or None when none is counted
(CloudWatch's INSUFFICIENT_DATA: it breaks an alarm's run of datapoints).
The proportional rule of both presets is ``raw = ceil(counted × metric /
target)``, the capacity that would bring the metric to the target if load
spread evenly; ``capacity`` is the desired capacity so far (instances
running, booting included, draining ones not).

``aws`` (target tracking, EC2 Auto Scaling and Application Auto Scaling):
two alarms on the datapoints. High: the last ``evaluation_periods`` all
above ``target`` → scale out to ``raw`` if that is more than ``capacity``,
unless a scale-out happened less than ``scale_out_cooldown`` ago. Low: the
last ``scale_in_evaluation_periods`` all below ``0.9 × target`` → scale in
to ``raw`` if that is less, unless any scaling happened less than
``scale_in_cooldown`` ago. Instances still booting count in ``capacity``,
so a scale-out is not repeated while its instances boot.

``hpa`` (Kubernetes HorizontalPodAutoscaler, ``replica_calculator.go`` and
``horizontal.go``): every period a recommendation, ``capacity`` when
``|metric / target − 1| ≤ tolerance`` else ``raw``; a scale-up goes to the
recommendation but at most ``max(4, capacity)`` more (the default scale-up
policies: 4 pods or 100% per 15 s, whichever is more); a scale-down goes
only to the highest recommendation of the last ``stabilization_window``
(default 300 s), so a dip shorter than the window never removes a pod.
The result is clamped to ``[min, max]`` in both presets.
"""

from __future__ import annotations

import math
from collections import deque

from lbsim.scenario.models.autoscale import Autoscale

SCALE_IN_THRESHOLD = 0.9  # the low alarm of AWS target tracking: 90% of the target
HPA_SCALE_UP_PODS = 4  # default scaleUp policies: 4 pods or 100% per period
EPSILON = 1e-9  # ceil(4.0000000001) is 4: float noise never adds an instance


def proportional(counted: int, metric: float, target: float) -> int:
    """``ceil(counted × metric / target)``, robust to float noise."""
    return math.ceil(counted * metric / target - EPSILON)


class ScalingPolicy:
    """The desired capacity of one pool, one datapoint at a time (module docstring)."""

    def __init__(self, config: Autoscale) -> None:
        self.config = config
        self.points: deque[float | None] = deque(maxlen=max(config.out_periods, config.in_periods))
        self.recommendations: deque[tuple[float, int]] = deque()  # hpa: (time, replicas)
        self.last_out = -math.inf
        self.last_change = -math.inf

    def decide(self, now: float, metric: float | None, counted: int, capacity: int) -> int:
        """The desired capacity after the datapoint ``metric`` at ``now``."""
        config = self.config
        self.points.append(metric)
        if config.preset == "hpa":
            desired = self._hpa(now, metric, counted, capacity)
        else:
            desired = self._aws(now, metric, counted, capacity)
        desired = min(config.max, max(config.min, desired))
        if desired > capacity:
            self.last_out = now
        if desired != capacity:
            self.last_change = now
        return desired

    def _run(self, periods: int, above: bool, threshold: float) -> bool:
        """Whether the last ``periods`` datapoints are all above (below) ``threshold``."""
        if len(self.points) < periods:
            return False
        recent = list(self.points)[-periods:]
        return all(p is not None and (p > threshold if above else p < threshold) for p in recent)

    def _aws(self, now: float, metric: float | None, counted: int, capacity: int) -> int:
        config = self.config
        if metric is None:
            return capacity
        raw = proportional(counted, metric, config.target)
        if (
            self._run(config.out_periods, True, config.target)
            and raw > capacity
            and now - self.last_out >= config.scale_out_cooldown
        ):
            return raw
        if (
            self._run(config.in_periods, False, SCALE_IN_THRESHOLD * config.target)
            and raw < capacity
            and now - self.last_change >= config.scale_in_cooldown
        ):
            return raw
        return capacity

    def _hpa(self, now: float, metric: float | None, counted: int, capacity: int) -> int:
        config = self.config
        if metric is None:
            return capacity
        if abs(metric / config.target - 1) <= config.tolerance:
            recommendation = capacity
        else:
            recommendation = proportional(counted, metric, config.target)
        window = self.recommendations
        window.append((now, recommendation))
        while window and window[0][0] <= now - config.window_s:
            window.popleft()
        if recommendation > capacity:
            if now - self.last_out < config.scale_out_cooldown:
                return capacity
            return min(recommendation, capacity + max(HPA_SCALE_UP_PODS, capacity))
        if recommendation < capacity:
            if now - self.last_change < config.scale_in_cooldown:
                return capacity
            return min(capacity, max(r for _, r in window))
        return capacity
