"""A SimPy world built from one scenario variant, and its run.

Build: draw nothing here (the workload comes ready from the client side);
create the servers, then the balancer instances, each with its own view,
algorithm and stream (a plug-in that is no BaseAlgorithm but has listener
methods is subscribed to its host set here), its health probers (their
initial verdicts applied in one refresh, so building is O(n)), passive
checker and slow start; closed-loop sessions, persistence, a session store
or contended rows through one :class:`~lbsim.engine.sessions.SessionDriver`
hooked into them; then the failure timeline. Run: arrivals are fed to a balancer by a chain of
timeouts (one event per request: DNS round robin over instances, or the
active one of a pair), services end by one timeout each, completions are
routed back to the balancer that sent them, and a sampler records levels
every ``sample_interval``. The simulation advances in chunks so a caller can
show progress without any per-event cost. Whether anything is left to do
(:meth:`World.active`) is read from running totals, not a scan.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from functools import partial
from operator import attrgetter

import numpy as np
from simpy.events import Timeout

from lbsim import algorithms
from lbsim.algorithms import Algorithm, HostSet
from lbsim.algorithms.base import BaseAlgorithm, HostListener, Uniforms
from lbsim.engine import load_reports, patterns
from lbsim.engine.balancer import Balancer
from lbsim.engine.connected import ConnectedBalancer
from lbsim.engine.connections import ConnectionTable
from lbsim.engine.contention import LoadedServer
from lbsim.engine.faults import Faults
from lbsim.engine.health import Prober
from lbsim.engine.hedging import Hedging, HedgingBalancer
from lbsim.engine.loop import Arrivals, Loop, advance
from lbsim.engine.outlier import passive_checker
from lbsim.engine.records import LEVELS, Recorder, column
from lbsim.engine.servers import ATTEMPT_BITS, Server
from lbsim.engine.sessions import SessionDriver, needs_driver
from lbsim.engine.slowstart import SlowStarter
from lbsim.engine.state import RequestState, Totals
from lbsim.engine.workload import Workload
from lbsim.scenario import Scenario
from lbsim.streams import stream

Progress = Callable[[float], None]  # fraction of simulated time done, 0..1

CHUNKS = 200
MIN_SAMPLES = 50  # level samples of a run, however big the cluster


class World:
    """Servers, balancer, recorder and the SimPy environment of one variant."""

    def __init__(self, scenario: Scenario, workload: Workload) -> None:
        self.scenario = scenario
        self.requested = workload  # the requests as the clients made them
        self.calls = patterns.expand(scenario, workload)  # hedged or fan-out requests
        if self.calls is not None:
            workload = self.calls.workload  # the balancer sees each call as a request
        self.workload = workload
        self._hedging: Hedging | None = None
        self.env = Loop()
        self.totals = Totals()
        self.state = RequestState(len(workload))
        self.recorder = Recorder(
            len(workload),
            sum(pool.count for pool in scenario.servers),
            shared=self.state.columns(),
        )
        demand = column(workload.demand)
        start = column(self.recorder.start)
        tries = column(self.state.attempt)
        window = (scenario.warmup, scenario.duration)
        config = scenario.balancer
        seed = scenario.seed

        self.servers: list[Server] = []
        for pool in scenario.servers:
            make = Server if pool.slowdown is None else partial(LoadedServer, curve=pool.slowdown)
            for i in range(pool.count):
                name = f"{pool.name}-{i}"
                self.servers.append(
                    make(
                        self.env,
                        len(self.servers),
                        name,
                        workers=pool.workers,
                        speed=pool.speed,
                        queue_limit=pool.queue_limit,
                        demand=demand,
                        start=start,
                        tries=tries,
                        inflight=self.state.inflight,
                        done=self._done,
                        connect_timeout=config.connect_timeout,
                        errors=Uniforms(stream(seed, f"server-errors/{name}")),
                        window=window,
                        totals=self.totals,
                    )
                )
        names = [server.name for server in self.servers]
        weights = [pool.weight for pool in scenario.servers for _ in range(pool.count)]
        backup = [pool.backup for pool in scenario.servers for _ in range(pool.count)]
        keys = column(workload.client_ips[workload.client])
        client_ids = column(workload.client)
        self.balancers: list[Balancer] = []
        kind: Callable[..., Balancer] = Balancer
        if scenario.clients.hedge is not None:
            kind = HedgingBalancer
        self.connections = self._connection_table(len(self.servers), window)
        if self.connections is not None:
            limits = config.connections
            drain = limits.drain_timeout if limits is not None else None
            kind = partial(ConnectedBalancer, table=self.connections, drain_timeout=drain)
        for index in range(config.instances):
            # Each instance has its own view and its own algorithm (Envoy's
            # per-worker balancers; one LB node per zone in ALB).
            backends = HostSet(names, weights, true_load=lambda i: self.servers[i].in_system)
            suffix = f"/{index}" if index else ""
            algorithm = algorithms.get(config.algorithm.name).factory(
                backends, stream(seed, f"algorithm{suffix}"), config.algorithm.params()
            )
            _subscribe_plugin(backends, algorithm)
            balancer = kind(
                self.env,
                index,
                backends,
                algorithm,
                self.servers,
                backup=backup,
                panic_threshold=config.panic_threshold,
                fail_open=config.fail_open,
                all_backups=config.all_backups,
                connect_timeout=config.connect_timeout,
                clients=scenario.clients,
                recorder=self.recorder,
                state=self.state,
                keys=keys,
                client_ids=client_ids,
                rng=stream(seed, f"retries{suffix}"),
                totals=self.totals,
            )
            self.balancers.append(balancer)
            probers = (
                [
                    Prober(
                        self.env,
                        server,
                        balancer,
                        config.health_check,
                        self.recorder,
                        seed,
                        self.active,
                    )
                    for server in self.servers
                ]
                if config.health_check is not None
                else []
            )
            if probers:
                balancer.set_initial_health([prober.healthy for prober in probers])
            if config.slow_start is not None:
                SlowStarter(self.env, balancer, config.slow_start, self.recorder)
            if config.passive is not None:
                passive_checker(
                    config.passive,
                    self.env,
                    balancer,
                    self.recorder,
                    probers,
                    stream(seed, f"outlier{suffix}"),
                    self.active,
                )
        load_reports.attach(self.env, scenario, self.servers, self.balancers, self.active)
        self.balancer = self.balancers[0]
        self._serving = 0  # the active instance of an active-passive pair
        self._route = self.recorder.balancer.data
        instances = config.instances
        if instances > 1 and config.mode == "active_active":
            # DNS round robin: each client resolved the name once, to one instance.
            self._client_lb: np.ndarray | None = np.arange(scenario.clients.count) % instances
        else:
            self._client_lb = None
        self._clients = column(workload.client)
        self.sessions = SessionDriver(self) if needs_driver(scenario) else None
        Faults(
            self.env,
            scenario,
            self.servers + (self.sessions.stations if self.sessions else []),
            self.balancers,
            self.recorder,
            self.active,
            on_balancer=self._balancer_event,
        )
        self._arrival = column(workload.arrival)
        self._arrivals: Arrivals | None = None

    def _connection_table(
        self, n_servers: int, window: tuple[float, float]
    ) -> ConnectionTable | None:
        """The clients' connections, if the scenario has a connection model."""
        model = self.scenario.clients.connections
        if model is None:
            return None
        table = ConnectionTable(
            self.env,
            self.workload,
            model,
            self.scenario.balancer.connections,
            n_servers,
            window,
            stream(self.scenario.seed, "keepalive-requests"),
            pinned=self.scenario.balancer.layer == 4 or model.websocket is not None,
        )
        table.on_close = self._connection_closed
        return table

    def _connection_closed(self, owner: int, host: int, lifetime: float) -> None:
        balancer = self.balancers[owner]
        assert isinstance(balancer, ConnectedBalancer)
        balancer.connection_closed(host, lifetime)

    def _done(self, job: int, backend: int, status: int) -> None:
        self.balancers[self._route[job >> ATTEMPT_BITS]].complete(job, backend, status)

    def _arrive(self, request: int) -> None:
        if self._client_lb is not None:
            lb = int(self._client_lb[self._clients[request]])
            self._route[request] = lb
            self.balancers[lb].dispatch(request)
        elif self._serving:
            self._route[request] = self._serving
            self.balancers[self._serving].dispatch(request)
        else:
            self.balancer.dispatch(request)

    def _balancer_event(self, index: int, up: bool) -> None:
        """A balancer instance crashed or recovered (from the timeline)."""
        balancer = self.balancers[index]
        if up:
            balancer.recover()
        else:
            inflight = np.frombuffer(self.state.inflight, dtype=np.uint8)
            balancer.crash(np.flatnonzero((inflight == 1) & (self.recorder.balancer == index)))
        config = self.scenario.balancer
        if config.mode == "active_passive" and not self.balancers[self._serving].up:
            # VRRP: an instance that is up claims the address after failover_time
            Timeout(self.env, config.failover_time).callbacks.append(self._takeover)

    def _takeover(self, event: Timeout) -> None:
        if self.balancers[self._serving].up:
            return
        standby = next((b.index for b in self.balancers if b.up), None)
        if standby is not None:
            self._serving = standby
            self.recorder.log(self.env.now, "takeover", f"lb-{standby}")

    def _sample(self, event: Timeout | None = None) -> None:
        levels = np.empty((len(LEVELS), len(self.servers)), dtype=np.int32)
        servers, n = self.servers, len(self.servers)  # read in C (map), not a Python loop
        levels[0] = np.fromiter(map(len, map(_queue_of, servers)), np.int32, n)
        levels[1] = np.fromiter(map(_busy_of, servers), np.int32, n)
        levels[2] = np.sum([b.backends.outstanding for b in self.balancers], axis=0)
        levels[3] = (
            np.sum([b.backends.available for b in self.balancers if b.up], axis=0)
            if any(b.up for b in self.balancers)
            else 0
        )
        levels[4] = np.fromiter(map(_up_of, servers), np.int32, n)
        views = np.array(
            [
                (sum(b.backends.available) if b.up else 0, sum(b.backends.outstanding), b.up)
                for b in self.balancers
            ],
            dtype=np.int32,
        )
        self.recorder.sample(self.env.now, levels, views)
        if self.active() and self.env.now + self.sampling <= self.end_time:
            Timeout(self.env, self.sampling).callbacks.append(self._sample)

    def _window_opens(self, event: Timeout) -> None:
        for server in self.servers:
            server.window_opens()

    def active(self) -> bool:
        """Whether requests are still to come or in flight."""
        arrivals = self._arrivals
        pending = arrivals.pending() if arrivals is not None else bool(self._arrival)
        return pending or self.totals.any()

    @property
    def sampling(self) -> float:
        """The level sampling period: ``sample_interval`` if set, else
        ``scenario.sampling`` (500 samples) unless that costs more than about
        one server level per request: a sample reads every server, so big
        clusters get ``requests / servers`` samples (at least ``MIN_SAMPLES``)."""
        scenario = self.scenario
        if scenario.sample_interval is not None:
            return scenario.sampling
        samples = max(MIN_SAMPLES, len(self.workload) // max(len(self.servers), 1))
        return max(scenario.sampling, scenario.duration / samples)

    @property
    def end_time(self) -> float:
        """When the run stops: end of arrivals plus the drain time."""
        return self.scenario.duration + self.scenario.drain_time

    def run(self, progress: Progress | None = None) -> Recorder:
        """Simulate until every request is answered or the drain time is up.

        ``progress`` is called after each of ``CHUNKS`` slices of simulated
        time with the fraction done, never per event.
        """
        sessions = self.sessions
        simple = self._client_lb is None and len(self.balancers) == 1 and sessions is None
        times: Sequence[float] = self._arrival
        arrive: Callable[[int], None] = self.balancer.dispatch if simple else self._arrive
        hedge = self.scenario.clients.hedge
        if hedge is not None and self.calls is not None:
            balancers = [b for b in self.balancers if isinstance(b, HedgingBalancer)]
            calls = self.calls
            self._hedging = Hedging(
                hedge, calls.backup, calls.sibling, self.state, balancers, self._route, arrive
            )
            arrive = self._hedging.arrive
        if sessions is not None and self.workload.session is not None:
            times, arrive = sessions.feed(arrive)
        arrivals = Arrivals(self.env, times, arrive)
        self._arrivals = arrivals
        if simple:  # answers go straight back to the one balancer
            for server in self.servers:
                server.done = self.balancer.complete
        self._sample()
        Timeout(self.env, self.scenario.warmup).callbacks.append(self._window_opens)
        end = self.end_time
        enabled = gc.isenabled()
        gc.collect()
        gc.freeze()  # the world built so far is never garbage: keep the collector off it
        gc.disable()
        try:
            for chunk in range(1, CHUNKS + 1):
                if self.env.peek() == float("inf") and not arrivals.pending():
                    break
                advance(self.env, end * chunk / CHUNKS, arrivals)
                if progress is not None:
                    progress(chunk / CHUNKS)
        finally:
            gc.unfreeze()
            if enabled:
                gc.enable()
        if progress is not None:
            progress(1.0)
        for server in self.servers:
            server.finish_accounting()
        self.recorder.busy_area[:] = [s.busy_area for s in self.servers]
        self.recorder.queue_area[:] = [s.queue_area for s in self.servers]
        self.recorder.queue_peak[:] = [s.queue_peak for s in self.servers]
        if self.connections is not None:
            self.recorder.connections = self.connections.stats()
        if sessions is not None:  # sent requests in arrival order (closed-loop sessions)
            self.workload = sessions.realised()
        if self.calls is not None:  # one row per request again, as the clients made them
            self.workload = self.requested
            sent = self._hedging.dispatched if self._hedging is not None else None
            return self.calls.collapse(self.recorder, sent)
        return self.recorder


_queue_of = attrgetter("queue")
_busy_of = attrgetter("busy")
_up_of = attrgetter("up")


class _PluginListener(HostListener):
    """Forwards host-set changes to a plug-in that has some listener methods
    but does not derive from :class:`~lbsim.algorithms.base.BaseAlgorithm`."""

    def __init__(self, algorithm: Algorithm) -> None:
        self.algorithm = algorithm

    def hosts_added(self, hosts: Sequence[int]) -> None:
        getattr(self.algorithm, "hosts_added", _ignore)(hosts)

    def hosts_removed(self, hosts: Sequence[int]) -> None:
        getattr(self.algorithm, "hosts_removed", _ignore)(hosts)

    def hosts_changed(self, hosts: Sequence[int]) -> None:
        getattr(self.algorithm, "hosts_changed", _ignore)(hosts)


def _ignore(hosts: Sequence[int]) -> None:
    """A listener method the plug-in does not have."""


def _subscribe_plugin(backends: HostSet, algorithm: Algorithm) -> None:
    """Subscribe a plug-in algorithm to its host set once, unless it did so
    itself (every :class:`BaseAlgorithm` does)."""
    if isinstance(algorithm, BaseAlgorithm) or any(
        listener is algorithm for listener in backends.listeners
    ):
        return
    if any(hasattr(algorithm, name) for name in ("hosts_added", "hosts_removed", "hosts_changed")):
        backends.subscribe(_PluginListener(algorithm))
