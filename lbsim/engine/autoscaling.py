"""Autoscaling of a pool: instances boot, register, drain and terminate.

A pool with ``autoscale`` has ``max`` hosts allocated up front (DESIGN §7);
the first ``count`` run from the start, the others are not provisioned (down,
unregistered at every balancer). Nothing here runs for a pool without it.

The metric is sampled every ``min(1 s, period / 10)`` over the *counted*
instances (in service and past ``warmup``): ``cpu`` the mean share of
workers busy, in percent; ``queue`` the mean number waiting. At the end of
each period the mean of those samples (``requests_per_target``: requests
sent to the pool in the period per instance in service, ALB's
RequestCountPerTarget) is one datapoint for the
:class:`~lbsim.engine.scaling_policy.ScalingPolicy`, and its answer is applied:

* scale-out: the lowest-numbered free hosts launch; after ``boot_time`` each
  registers with every balancer whose cluster holds it (``HostSet.add``),
  its health checks start (it must pass them as a new host does under the
  configured preset), and slow start ramps it once it is healthy;
* scale-in: instances still booting are cancelled first, then those in
  service go newest first (Kubernetes' ReplicaSet order); each is
  deregistered (no new requests), drains until nothing is in flight or
  ``deregistration_delay`` is over (ALB), and is terminated: anything it
  still holds then fails (``conn_error``), and it leaves the host set
  (``HostSet.remove``).

Every action is logged (``scale_out``, ``scale_in``, ``instance_ready``,
``instance_draining``, ``instance_terminated``, ``instance_cancelled``) with
the pool's counts after it, so capacity over time is read from events.csv.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
from simpy.events import Timeout

from lbsim.engine.balancer import Balancer
from lbsim.engine.health import Prober
from lbsim.engine.loop import Loop
from lbsim.engine.records import Recorder
from lbsim.engine.scaling_policy import ScalingPolicy
from lbsim.engine.servers import Server
from lbsim.scenario.models.servers import ServerPool

FREE, BOOTING, IN_SERVICE, DRAINING = range(4)
SAMPLES_PER_PERIOD = 10
MAX_TICK = 1.0  # seconds between metric samples, at most
DRAIN_POLL = 1.0  # seconds between checks of a draining instance, at most

Attach = Callable[[Server, int], list[Prober]]  # (server, generation) -> its new probers


class PoolScaler:
    """The autoscaler of one pool (module docstring)."""

    def __init__(
        self,
        env: Loop,
        pool: ServerPool,
        hosts: Sequence[Server],
        balancers: Sequence[Balancer],
        recorder: Recorder,
        attach: Attach,
        sent: np.ndarray,
        server: np.ndarray,
        active: Callable[[], bool],
        probers: Sequence[list[Prober]],
    ) -> None:
        """``probers``: each host's health checks as built with the world
        (the hosts running at the start have some)."""
        assert pool.autoscale is not None
        self.env = env
        self.pool = pool
        self.config = config = pool.autoscale
        self.hosts = list(hosts)
        self.balancers = [b for b in balancers if b.members[self.hosts[0].index]]
        self.recorder = recorder
        self.attach = attach
        self.active = active
        self.policy = ScalingPolicy(config)
        self.state = [IN_SERVICE if i < pool.count else FREE for i in range(len(self.hosts))]
        # the instances running at the start have warmed up already
        self.ready_at = [-math.inf] * len(self.hosts)
        self.generation = [0] * len(self.hosts)  # launches of each host (guards stale timers)
        self.probers = [list(mine) for mine in probers]
        self._sent, self._server = sent, server
        self._lo, self._hi = self.hosts[0].index, self.hosts[-1].index + 1
        self.period = config.period_s
        self.tick = min(MAX_TICK, self.period / SAMPLES_PER_PERIOD)
        self._sum, self._samples = 0.0, 0
        self._period_start = 0.0
        self._log("autoscale", pool.name)
        Timeout(env, self.tick).callbacks.append(self._sample)

    # ------------------------------------------------------------ counts

    def count(self, state: int) -> int:
        return self.state.count(state)

    @property
    def capacity(self) -> int:
        """Desired capacity so far: running or booting, not draining."""
        return self.count(IN_SERVICE) + self.count(BOOTING)

    def counted(self) -> list[Server]:
        """Instances the metric is averaged over: in service, past the warm-up."""
        now, warmup = self.env.now, self.config.warmup
        return [
            host
            for i, host in enumerate(self.hosts)
            if self.state[i] == IN_SERVICE and now - self.ready_at[i] >= warmup
        ]

    def _log(self, kind: str, target: str, extra: str = "") -> None:
        detail = (
            f"pool={self.pool.name} desired={self.capacity} "
            f"provisioned={len(self.hosts) - self.count(FREE)} in_service={self.count(IN_SERVICE)}"
        )
        self.recorder.log(self.env.now, kind, target, f"{detail} {extra}".rstrip())

    # ------------------------------------------------------------ metric

    def _sample(self, event: object = None) -> None:
        metric = self.config.metric
        if metric != "requests_per_target":
            counted = self.counted()
            if counted:
                if metric == "cpu":
                    value = sum(h.busy / h.workers for h in counted) / len(counted)
                else:
                    value = sum(len(h.queue) for h in counted) / len(counted)
                self._sum += value
                self._samples += 1
        now = self.env.now
        if now - self._period_start >= self.period - 1e-9:
            self._evaluate(now)
        if self.active():
            Timeout(self.env, self.tick).callbacks.append(self._sample)

    def _datapoint(self, now: float) -> tuple[float | None, int]:
        """The period's datapoint and how many instances it is over."""
        if self.config.metric == "requests_per_target":
            in_service = self.count(IN_SERVICE)
            if not in_service:
                return None, 0
            sent, server = self._sent, self._server
            requests = np.count_nonzero(
                (sent > self._period_start)
                & (sent <= now)
                & (server >= self._lo)
                & (server < self._hi)
            )
            return float(requests) / in_service, in_service
        if not self._samples:
            return None, 0
        value = self._sum / self._samples
        return (100 * value if self.config.metric == "cpu" else value), len(self.counted())

    def _evaluate(self, now: float) -> None:
        metric, counted = self._datapoint(now)
        self._sum, self._samples, self._period_start = 0.0, 0, now
        capacity = self.capacity
        desired = self.policy.decide(now, metric, counted, capacity)
        shown = "none" if metric is None else f"{metric:.4g}"
        if desired > capacity:
            self._scale_out(desired - capacity, shown)
        elif desired < capacity:
            self._scale_in(capacity - desired, shown)

    # ------------------------------------------------------------ actions

    def _scale_out(self, n: int, metric: str) -> None:
        free = [i for i, s in enumerate(self.state) if s == FREE][:n]
        for i in free:
            self.state[i] = BOOTING
            self.generation[i] += 1
            generation = self.generation[i]
            Timeout(self.env, self.config.boot_time).callbacks.append(
                partial(self._ready, i, generation)
            )
        self._log("scale_out", self.pool.name, f"metric={metric} launched={len(free)}")

    def _ready(self, i: int, generation: int, event: object = None) -> None:
        if self.generation[i] != generation or self.state[i] != BOOTING:
            return  # cancelled while booting
        host = self.hosts[i]
        host.recover()
        self.state[i] = IN_SERVICE
        self.ready_at[i] = self.env.now
        probers = self.probers[i] = self.attach(host, generation)
        checked = {prober.balancer.slot: prober.healthy for prober in probers}
        for balancer in self.balancers:
            balancer.register(host.index, checked.get(balancer.slot, True))
        self._log("instance_ready", host.name)

    def _scale_in(self, n: int, metric: str) -> None:
        booting = [i for i, s in enumerate(self.state) if s == BOOTING]
        serving = sorted(
            (i for i, s in enumerate(self.state) if s == IN_SERVICE),
            key=lambda i: (self.ready_at[i], i),
        )
        victims = (booting[::-1] + serving[::-1])[:n]
        for i in victims:
            self.state[i] = FREE if self.state[i] == BOOTING else DRAINING
        self._log("scale_in", self.pool.name, f"metric={metric} removed={len(victims)}")
        for i in victims:
            host = self.hosts[i]
            if self.state[i] == FREE:
                self._log("instance_cancelled", host.name)
                continue
            for prober in self.probers[i]:
                prober.stop()
            for balancer in self.balancers:
                balancer.deregister(host.index)
            self._log("instance_draining", host.name, f"in_flight={host.in_system}")
            self._drain(i, self.generation[i], self.env.now + self.config.deregistration_delay)

    def _drain(self, i: int, generation: int, deadline: float) -> None:
        host = self.hosts[i]
        if self.generation[i] != generation or self.state[i] != DRAINING:
            return
        held = host.in_system + len(host.held)
        if held and self.env.now < deadline:
            wait = min(DRAIN_POLL, deadline - self.env.now)
            Timeout(self.env, wait).callbacks.append(lambda _: self._drain(i, generation, deadline))
            return
        host.crash()  # terminated: whatever it still holds fails
        self.state[i] = FREE
        for balancer in self.balancers:
            balancer.release(host.index)
        self._log("instance_terminated", host.name, f"lost={held}")
