"""Versions of a pool: the traffic split, step-by-step shifts and automatic rollback.

A pool with versions is Envoy's ``weighted_clusters``: each request that a
route sends to the pool goes to one version, drawn with probability
``weight / Σ weights`` (the route's own stream), and is then balanced among
that version's servers by the version's own balancer. The weights are the
control plane's, shared by every balancer instance. A ``shift`` on the
timeline moves one version's weight to a target in equal steps; the others
share the rest in proportion to their weights (all to the first if they are
all 0). The rollback rule counts each canary version's attempts and failed
attempts in ``window / 10`` buckets and, when the trailing window holds at
least ``min_requests`` attempts with an error rate above ``error_rate``,
sets its weight to 0 for good (a later shift does not bring it back).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from lbsim.algorithms.draws import Uniforms
from lbsim.engine.loop import Loop
from lbsim.engine.records import OK, Recorder
from lbsim.scenario.models.events import TimelineEvent
from lbsim.scenario.models.routes import Pool

BUCKETS = 10  # a rollback window is checked in this many steps


class Weights:
    """The traffic weights of a pool's versions (percent), set by the control plane."""

    def __init__(self, pool: Pool) -> None:
        assert pool.versions is not None
        self.pool = pool.name
        self.names = [v.name for v in pool.versions]
        self.values = [v.weight for v in pool.versions]
        self.rolled_back: set[int] = set()

    def set(self, version: int, percent: float) -> None:
        """``version`` gets ``percent``; the others share the rest in proportion."""
        others = [i for i in range(len(self.values)) if i != version]
        rest = sum(self.values[i] for i in others)
        left = 100.0 - percent
        for i in others:
            self.values[i] = left * self.values[i] / rest if rest else 0.0
        if not rest and others:
            self.values[others[0]] = left
        self.values[version] = percent


class Splitter:
    """Picks the version of each request by weight (one uniform draw)."""

    __slots__ = ("_uniforms", "weights")

    def __init__(self, weights: Weights, uniforms: Uniforms) -> None:
        self.weights = weights
        self._uniforms = uniforms

    def pick(self) -> int:
        values = self.weights.values
        x = self._uniforms.next() * sum(values)
        for version, weight in enumerate(values):
            if x < weight:
                return version
            x -= weight
        return max(range(len(values)), key=values.__getitem__)  # float rounding at the top


class Rollout:
    """Applies ``shift`` events and the rollback rule of one pool."""

    def __init__(
        self,
        env: Loop,
        pool: Pool,
        weights: Weights,
        version_of: Callable[[int], int],
        recorder: Recorder,
        active: Callable[[], bool],
    ) -> None:
        self.env = env
        self.weights = weights
        self.recorder = recorder
        self.active = active
        self.version_of = version_of  # server index -> version (-1: not in this pool)
        self.rule = pool.rollback
        if self.rule is not None:
            n = len(weights.values)
            self.current = [[0, 0] for _ in range(n)]  # (attempts, failed) in this bucket
            self.buckets: list[deque[tuple[int, int]]] = [deque(maxlen=BUCKETS) for _ in range(n)]
            self._tick_every = self.rule.window / BUCKETS
            self.env.after(self._tick_every, self._tick)

    def observe(self, backend: int, status: int) -> None:
        """An attempt on ``backend`` ended (a balancer's outcome listener)."""
        version = self.version_of(backend)
        if version > 0:
            counts = self.current[version]
            counts[0] += 1
            counts[1] += status != OK

    def _tick(self, _: object = None) -> None:
        assert self.rule is not None
        for version in range(1, len(self.current)):
            self.buckets[version].append((self.current[version][0], self.current[version][1]))
            self.current[version] = [0, 0]
            attempts = sum(b[0] for b in self.buckets[version])
            failed = sum(b[1] for b in self.buckets[version])
            if (
                version not in self.weights.rolled_back
                and attempts >= self.rule.min_requests
                and failed / attempts > self.rule.error_rate
            ):
                self.weights.set(version, 0.0)
                self.weights.rolled_back.add(version)
                self.recorder.log(
                    self.env.now,
                    "rollback",
                    self.weights.pool,
                    f"{self.weights.names[version]}: {failed}/{attempts} failed",
                )
        if self.active():
            self.env.after(self._tick_every, self._tick)

    def shift(self, event: TimelineEvent) -> None:
        """Start a timeline ``shift`` (now is ``event.at``)."""
        assert event.version is not None and event.percent is not None
        version = self.weights.names.index(event.version)
        start = self.weights.values[version]
        targets = [
            start + (event.percent - start) * step / event.steps
            for step in range(1, event.steps + 1)
        ]
        self._step(version, targets, event.every or 0.0)

    def _step(self, version: int, targets: Sequence[float], every: float) -> None:
        if version in self.weights.rolled_back:
            return
        self.weights.set(version, targets[0])
        self.recorder.log(
            self.env.now,
            "shift",
            self.weights.pool,
            f"{self.weights.names[version]}={targets[0]:g}%",
        )
        if len(targets) > 1:
            self.env.after(every, lambda _: self._step(version, targets[1:], every))
