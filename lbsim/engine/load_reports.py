"""What some policies need from the world beyond the balancer's own view.

One call, :func:`attach`, made once the balancers are built, gives each
instance's algorithm what it declares it needs, and nothing to the others
(no cost on the hot path of a policy that needs none):

* with ``balancer.subset``, each instance's algorithm is built anew on a
  view of its subset of the hosts (:mod:`lbsim.algorithms.policies.subset`;
  the first build is discarded before any request, its stream reused);

* a :class:`~lbsim.algorithms.policies.Clocked` policy gets ``clock``, the
  simulated time;
* the instances of a :class:`~lbsim.algorithms.policies.Peered` policy are
  introduced to each other (``join_peers``, once per policy);
* a :class:`~lbsim.algorithms.policies.Periodic` policy has its ``tick``
  called every ``period`` seconds while the run is active (one timeout per
  period and policy);
* a :class:`~lbsim.algorithms.policies.LoadReported` policy hears every
  server's load report each ``report_period``: its utilisation (the busy
  fraction of its workers, sampled ``SAMPLES`` times evenly over the period,
  as a CPU meter samples), and the responses and errors it sent per second
  (attempts answered ``ok``, ``server_error`` or ``rejected`` at any
  balancer instance, counted through the balancers' outcome listeners).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from simpy import Environment
from simpy.events import Timeout

from lbsim import algorithms
from lbsim.algorithms.policies import Clocked, LoadReported, Peered, Periodic
from lbsim.algorithms.policies.subset import (
    Subsetted,
    aperture_subset,
    deterministic_subset,
    random_subset,
)
from lbsim.engine.balancer import Balancer
from lbsim.engine.servers import Server
from lbsim.scenario import Scenario
from lbsim.status import OK, REJECTED, SERVER_ERROR
from lbsim.streams import stream

SAMPLES = 20  # utilisation samples per report period
ANSWERS = (OK, SERVER_ERROR, REJECTED)  # statuses a server sent itself
ERRORS = (SERVER_ERROR, REJECTED)


def attach(
    env: Environment,
    scenario: Scenario,
    servers: Sequence[Server],
    balancers: Sequence[Balancer],
    active: Callable[[], bool],
) -> None:
    """Connect the algorithm of each of ``balancers`` to the world of ``env``
    (``active``: whether requests are still to come or in flight)."""
    if scenario.balancer.subset is not None:
        for balancer in balancers:
            _subset(scenario, len(servers), balancer)
    peered: dict[type, list[Peered]] = {}
    reported: dict[float, list[LoadReported]] = {}
    for balancer in balancers:
        algorithm = balancer.algorithm
        if isinstance(algorithm, Subsetted):
            algorithm = algorithm.inner
        if isinstance(algorithm, Clocked):
            algorithm.clock = lambda: env.now
        if isinstance(algorithm, Peered):
            peered.setdefault(type(algorithm), []).append(algorithm)
        if isinstance(algorithm, Periodic):
            _every(env, algorithm, active)
        if isinstance(algorithm, LoadReported):
            reported.setdefault(algorithm.report_period, []).append(algorithm)
    for group in peered.values():
        group[0].join_peers(group)
    for period, listeners in reported.items():
        LoadReporter(env, servers, balancers, period, listeners, active)


def _subset(scenario: Scenario, n: int, balancer: Balancer) -> None:
    config = scenario.balancer
    assert config.subset is not None
    index, size = balancer.index, config.subset.size
    suffix = f"/{index}" if index else ""
    if config.subset.mode == "deterministic":
        hosts = deterministic_subset(n, index, size)
    elif config.subset.mode == "aperture":
        hosts = aperture_subset(n, index, config.instances, size)
    else:
        hosts = random_subset(n, size, stream(scenario.seed, f"subset{suffix}"))
    spec = algorithms.get(config.algorithm.name)
    params = config.algorithm.params()
    balancer.backends.listeners.clear()  # only the first build's algorithm listened
    balancer.algorithm = Subsetted(
        balancer.backends,
        hosts,
        lambda view: spec.factory(view, stream(scenario.seed, f"algorithm{suffix}"), params),
    )


def _every(env: Environment, policy: Periodic, active: Callable[[], bool]) -> None:
    def tick(event: Timeout) -> None:
        policy.tick()
        if active():
            Timeout(env, policy.period).callbacks.append(tick)

    Timeout(env, policy.period).callbacks.append(tick)


class LoadReporter:
    """Every ``period``: each server's utilisation, answers and errors per second."""

    def __init__(
        self,
        env: Environment,
        servers: Sequence[Server],
        balancers: Sequence[Balancer],
        period: float,
        listeners: Sequence[LoadReported],
        active: Callable[[], bool],
    ) -> None:
        self.env = env
        self.servers = servers
        self.period = period
        self.listeners = listeners
        self.active = active
        n = len(servers)
        self.busy = [0.0] * n  # sum of sampled busy fractions this period
        self.answers = [0] * n
        self.errors = [0] * n
        self.samples = 0
        for balancer in balancers:
            balancer.outcome_listeners.append(self.outcome)
        Timeout(env, period / SAMPLES).callbacks.append(self.sample)

    def outcome(self, backend: int, status: int) -> None:
        if status in ANSWERS:
            self.answers[backend] += 1
            if status in ERRORS:
                self.errors[backend] += 1

    def sample(self, event: Timeout) -> None:
        for i, server in enumerate(self.servers):
            self.busy[i] += server.busy / server.workers
        self.samples += 1
        if self.samples == SAMPLES:
            self.report()
        if self.active():
            Timeout(self.env, self.period / SAMPLES).callbacks.append(self.sample)

    def report(self) -> None:
        period = self.period
        for i in range(len(self.servers)):
            utilization = self.busy[i] / SAMPLES
            qps, eps = self.answers[i] / period, self.errors[i] / period
            for listener in self.listeners:
                listener.on_load_report(i, utilization, qps, eps)
        n = len(self.servers)
        self.busy, self.answers, self.errors, self.samples = [0.0] * n, [0] * n, [0] * n, 0
