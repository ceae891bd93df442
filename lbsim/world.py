"""A SimPy world built from one scenario variant, and its run.

Build: draw nothing here (the workload comes ready from the client side),
create the servers, the balancer view and algorithm (with its own stream),
and wire completions back to the balancer. Run: arrivals are fed to the
balancer by a chain of timeouts (one event per request), services end by one
timeout each, and a sampler records levels every ``sample_interval``. The
simulation advances in chunks so a caller can show progress without any
per-event cost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from simpy import Environment
from simpy.events import Timeout

from lbsim import algorithms
from lbsim.algorithms import Backends
from lbsim.algorithms.base import Uniforms
from lbsim.balancer import Balancer
from lbsim.clients import Workload
from lbsim.faults import Faults
from lbsim.health import Prober
from lbsim.recorder import LEVELS, Recorder, column
from lbsim.scenario import Scenario
from lbsim.servers import Server
from lbsim.streams import stream

Progress = Callable[[float], None]  # fraction of simulated time done, 0..1

CHUNKS = 200


class World:
    """Servers, balancer, recorder and the SimPy environment of one variant."""

    def __init__(self, scenario: Scenario, workload: Workload) -> None:
        self.scenario = scenario
        self.workload = workload
        self.env = Environment()
        self.recorder = Recorder(len(workload), sum(pool.count for pool in scenario.servers))
        server_col, start_col, end_col, status_col = self.recorder.views()
        demand = column(workload.demand)

        names, weights = [], []
        self.servers: list[Server] = []
        for pool in scenario.servers:
            for i in range(pool.count):
                names.append(f"{pool.name}-{i}")
                weights.append(pool.weight)
                self.servers.append(
                    Server(
                        self.env,
                        len(self.servers),
                        names[-1],
                        workers=pool.workers,
                        speed=pool.speed,
                        queue_limit=pool.queue_limit,
                        demand=demand,
                        columns=(start_col, end_col, status_col),
                        done=self._done,
                        connect_timeout=scenario.balancer.connect_timeout,
                        errors=Uniforms(stream(scenario.seed, f"server-errors/{names[-1]}")),
                    )
                )
        backends = Backends(names, weights, true_load=lambda i: self.servers[i].in_system)
        choice = scenario.balancer.algorithm
        algorithm = algorithms.get(choice.name).factory(
            backends, stream(scenario.seed, "algorithm"), choice.params()
        )
        self.balancer = Balancer(
            self.env,
            0,
            backends,
            algorithm,
            self.servers,
            backup=[pool.backup for pool in scenario.servers for _ in range(pool.count)],
            panic_threshold=scenario.balancer.panic_threshold,
            recorder=self.recorder,
            arrival=column(workload.arrival),
            columns=(server_col, end_col, status_col),
        )
        check = scenario.balancer.health_check
        if check is not None:
            for server in self.servers:
                Prober(
                    self.env,
                    server,
                    self.balancer,
                    check,
                    self.recorder,
                    scenario.seed,
                    self.active,
                )
        Faults(self.env, scenario, self.servers, self.balancer, self.recorder, self.active)
        self._arrival = column(workload.arrival)
        self._keys = column(workload.client_ips[workload.client])
        self._next = 0

    def _done(self, request: int, backend: int) -> None:
        self.balancer.complete(request, backend)

    def _arrive(self, event: Timeout) -> None:
        request = self._next
        self.balancer.dispatch(request, self._keys[request])
        request += 1
        self._next = request
        if request < len(self._arrival):
            delay = self._arrival[request] - self.env.now
            Timeout(self.env, delay if delay > 0 else 0.0).callbacks.append(self._arrive)

    def _sample(self, event: Timeout | None = None) -> None:
        backends = self.balancer.backends
        levels = np.empty((len(LEVELS), len(self.servers)), dtype=np.int32)
        levels[0] = [len(s.queue) for s in self.servers]
        levels[1] = [s.busy for s in self.servers]
        levels[2] = backends.outstanding
        levels[3] = backends.available
        levels[4] = [s.up for s in self.servers]
        self.recorder.sample(self.env.now, levels)
        if self.active() and self.env.now + self.scenario.sampling <= self.end_time:
            Timeout(self.env, self.scenario.sampling).callbacks.append(self._sample)

    def active(self) -> bool:
        """Whether requests are still to come or in flight."""
        return (
            self._next < len(self._arrival)
            or any(s.busy or s.queue or s.held for s in self.servers)
            or any(self.balancer.backends.outstanding)
        )

    @property
    def end_time(self) -> float:
        """When the run stops: end of arrivals plus the drain time."""
        return self.scenario.duration + self.scenario.drain_time

    def run(self, progress: Progress | None = None) -> Recorder:
        """Simulate until every request is answered or the drain time is up.

        ``progress`` is called after each of ``CHUNKS`` slices of simulated
        time with the fraction done, never per event.
        """
        if self._arrival:
            Timeout(self.env, self._arrival[0]).callbacks.append(self._arrive)
        self._sample()
        end = self.end_time
        for chunk in range(1, CHUNKS + 1):
            if self.env.peek() == float("inf"):
                break
            self.env.run(until=end * chunk / CHUNKS)
            if progress is not None:
                progress(chunk / CHUNKS)
        if progress is not None:
            progress(1.0)
        return self.recorder
