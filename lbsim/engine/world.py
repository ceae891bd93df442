"""A SimPy world built from one scenario variant, and its run.

Build: draw nothing here (the workload comes ready from the client side);
create the servers, then the balancer instances, each with its own view,
algorithm and stream (a plug-in that is no BaseAlgorithm but has listener
methods is subscribed to its host set here), its health probers (their
initial verdicts applied in one refresh, so building is O(n); they share
one timer list per interval), passive
checker and slow start; closed-loop sessions, persistence, a session store
or contended rows through one :class:`~lbsim.engine.sessions.SessionDriver`
hooked into them; then the failure timeline. Run: the run loop
(:mod:`lbsim.engine.hotpath`) takes the arrivals from the sorted workload
array and hands each to its balancer (the only one, DNS round robin over
instances, or the active one of a pair), services end by one heap entry
each, completions are routed back to the balancer that sent them (the
common case of each written out in the loop), and a sampler records levels
every ``sample_interval``, reading only the servers that changed since the
last sample (:mod:`lbsim.engine.sampler`; a drain longer than the run is
sampled no more often than the run). The simulation advances in chunks so a caller can
show progress without any per-event cost. Whether anything is left to do
(:meth:`World.active`) is read from running totals, not a scan.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from simpy.events import Timeout

from lbsim import algorithms
from lbsim.algorithms import Algorithm, HostSet
from lbsim.algorithms.base import BaseAlgorithm, HostListener
from lbsim.engine import load_reports, patterns
from lbsim.engine.autoscaling import PoolScaler
from lbsim.engine.balancer import Balancer
from lbsim.engine.canary import Rollout
from lbsim.engine.connected import ConnectedBalancer, PinnedBalancer
from lbsim.engine.connections import ConnectionTable, origins
from lbsim.engine.contention import LoadedServer
from lbsim.engine.faults import Faults
from lbsim.engine.front import Front
from lbsim.engine.health import Prober
from lbsim.engine.hedging import Hedging, HedgingBalancer
from lbsim.engine.hotpath import advance, hot_path
from lbsim.engine.layer7 import build_layer7, is_layer7
from lbsim.engine.loop import Arrivals, Loop, Timers
from lbsim.engine.outlier import passive_checker
from lbsim.engine.records import L7_FACTS, REGION_FACTS, Recorder, column
from lbsim.engine.regions import Regional, instance_members
from lbsim.engine.sampler import LevelSampler
from lbsim.engine.servers import ATTEMPT_BITS, LazyUniforms, Server
from lbsim.engine.sessions import SessionDriver, needs_driver
from lbsim.engine.slowstart import SlowStarter
from lbsim.engine.state import RequestState, Totals
from lbsim.engine.workload import Workload
from lbsim.scenario import AlgorithmChoice, HealthCheck, PassiveCheck, Scenario, TimelineEvent
from lbsim.streams import stream

Progress = Callable[[float], None]  # fraction of simulated time done, 0..1

CHUNKS = 200
MIN_SAMPLES = 50  # level samples of a run, however big the cluster
READS_PER_REQUEST = 1  # requests per server read by the default level sampling


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
        layer7 = is_layer7(scenario)
        facts = (L7_FACTS if layer7 else ()) + (REGION_FACTS if scenario.regions else ())
        self.recorder = Recorder(
            len(workload),
            sum(pool.hosts for pool in scenario.servers),
            shared=self.state.columns(),
            optional=[fact.name for fact in facts],
        )
        # when each request reached its balancer: later than its arrival across a
        # network; a session's later requests are sent when the user is done thinking
        copied = scenario.regions or scenario.clients.sessions is not None
        self.reached = workload.arrival.copy() if copied else workload.arrival
        # TLS on the servers adds to a request's demand: a copy, the workload stays
        self.demand = workload.demand.copy() if layer7 else workload.demand
        demand = column(self.demand)
        start = column(self.recorder.start)
        tries = column(self.state.attempt)
        window = (scenario.warmup, scenario.duration)
        config = scenario.balancer
        seed = scenario.seed

        self.servers: list[Server] = []
        for pool in scenario.servers:
            make = Server if pool.slowdown is None else partial(LoadedServer, curve=pool.slowdown)
            for i in range(pool.hosts):
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
                        errors=LazyUniforms(partial(stream, seed, f"server-errors/{name}")),
                        window=window,
                        totals=self.totals,
                    )
                )
        self._names = [server.name for server in self.servers]
        # autoscaled pools: hosts beyond ``count`` are allocated but not provisioned
        self._provisioned = [i < pool.count for pool in scenario.servers for i in range(pool.hosts)]
        for server, provisioned in zip(self.servers, self._provisioned, strict=True):
            server.up = provisioned
        self._health: dict[int, HealthCheck] = {}  # balancer slot -> its health checks
        self._probers: dict[int, list[Prober]] = {}  # server -> its probers (autoscaling)
        self._weights = [pool.weight for pool in scenario.servers for _ in range(pool.hosts)]
        self._backup = [pool.backup for pool in scenario.servers for _ in range(pool.hosts)]
        self._keys = column(workload.client_ips[workload.client])
        self._client_ids = column(workload.client)
        self.balancers: list[Balancer] = []  # every cluster of every instance
        self.instances: list[list[Balancer]] = []  # the clusters of each instance
        self.fronts: list[Front] = []
        self.rollouts: dict[str, Rollout] = {}  # by pool name (pools with versions)
        self.connections = self._connection_table(len(self.servers), window)
        self._probe_timers: dict[float, Timers] = {}  # health probes' timer lists, by interval
        if not is_layer7(scenario):
            for index, members in enumerate(instance_members(scenario)):
                # Each instance has its own view and its own algorithm (Envoy's
                # per-worker balancers; one LB node per zone in ALB).
                suffix = f"/{index}" if index else ""
                balancer = self._cluster(
                    index, suffix, members, config.algorithm, config.health_check, config.passive
                )
                self.instances.append([balancer])
        else:
            self._slots = np.zeros(len(workload), dtype=np.int32)
            build_layer7(self, self._cluster, self._slots)
        load_reports.attach(self.env, scenario, self.servers, self.balancers, self.active)
        self.balancer = self.balancers[0]
        self._serving = 0  # the active instance of an active-passive pair
        # answers go back to the balancer of a request's instance (flat) or cluster
        self._route = column(self._slots) if self.fronts else self.recorder.balancer.data
        instances = config.instances
        if instances > 1 and config.mode == "active_active" and not scenario.regions:
            # DNS round robin: each client resolved the name once, to one instance.
            self._client_lb: np.ndarray | None = np.arange(scenario.clients.count) % instances
        else:
            self._client_lb = None
        self._clients = column(workload.client)
        self.sessions = SessionDriver(self) if needs_driver(scenario) else None
        self.regional = self._regional() if scenario.regions else None
        Faults(
            self.env,
            scenario,
            self.servers + (self.sessions.stations if self.sessions else []),
            self.balancers,
            self.recorder,
            self.active,
            on_balancer=self._balancer_event,
            on_pool=self._pool_event,
            on_region=self._region_event,
        )
        self._arrival = column(workload.arrival)
        self._arrivals: Arrivals | None = None
        self._sampler: LevelSampler | None = None
        self.scalers = self._scalers()

    def _scalers(self) -> list[PoolScaler]:
        """One autoscaler per pool with ``autoscale`` (none: nothing scheduled)."""
        scalers, first = [], 0
        for pool in self.scenario.servers:
            if pool.autoscale is not None:
                scalers.append(
                    PoolScaler(
                        self.env,
                        pool,
                        self.servers[first : first + pool.hosts],
                        self.balancers,
                        self.recorder,
                        self._attach,
                        self.state.sent,
                        self.state.server,
                        self.active,
                        [self._probers.get(first + i, []) for i in range(pool.hosts)],
                    )
                )
            first += pool.hosts
        return scalers

    def _attach(self, server: Server, generation: int) -> list[Prober]:
        """Health checks of a newly booted instance, one per balancer that checks it."""
        return [
            Prober(
                self.env,
                server,
                balancer,
                self._health[balancer.slot],
                self.recorder,
                self.scenario.seed,
                self.active,
                self._probe_timers,
                generation,
            )
            for balancer in self.balancers
            if balancer.slot in self._health and balancer.members[server.index]
        ]

    def _cluster(
        self,
        index: int,
        suffix: str,
        members: list[bool] | None,
        choice: AlgorithmChoice,
        health_check: HealthCheck | None,
        passive: PassiveCheck | None,
    ) -> Balancer:
        """One balancer (instance ``index``, or a route's cluster on it) with
        its algorithm, health probers, slow start and passive checks."""
        scenario, config, seed = self.scenario, self.scenario.balancer, self.scenario.seed
        backends = HostSet(
            self._names, self._weights, true_load=lambda i: self.servers[i].in_system
        )
        algorithm = algorithms.get(choice.name).factory(
            backends, stream(seed, f"algorithm{suffix}"), choice.params()
        )
        _subscribe_plugin(backends, algorithm)
        kind: Callable[..., Balancer] = Balancer
        if scenario.clients.hedge is not None:
            kind = HedgingBalancer
        if self.connections is not None:
            kind = partial(ConnectedBalancer, table=self.connections)
            if self.connections.pinned:
                limits = config.connections
                drain = limits.drain_timeout if limits is not None else None
                kind = partial(PinnedBalancer, table=self.connections, drain_timeout=drain)
        balancer = kind(
            self.env,
            index,
            backends,
            algorithm,
            self.servers,
            backup=self._backup,
            panic_threshold=config.panic_threshold,
            fail_open=config.fail_open,
            all_backups=config.all_backups,
            connect_timeout=config.connect_timeout,
            clients=scenario.clients,
            recorder=self.recorder,
            state=self.state,
            keys=self._keys,
            client_ids=self._client_ids,
            rng=stream(seed, f"retries{suffix}"),
            totals=self.totals,
            members=members,
        )
        balancer.slot = len(self.balancers)
        self.balancers.append(balancer)
        provisioned = self._provisioned
        if not all(provisioned):
            balancer.start_unregistered(
                [i for i, ok in enumerate(provisioned) if not ok and balancer.members[i]]
            )
        if health_check is not None:
            self._health[balancer.slot] = health_check
        probers = (
            [
                Prober(
                    self.env,
                    server,
                    balancer,
                    health_check,
                    self.recorder,
                    seed,
                    self.active,
                    self._probe_timers,
                )
                for server in self.servers
                if balancer.members[server.index] and provisioned[server.index]
            ]
            if health_check is not None
            else []
        )
        if any(pool.autoscale for pool in scenario.servers):  # stopped on a scale-in
            for prober in probers:
                self._probers.setdefault(prober.server.index, []).append(prober)
        if probers:
            healthy = list(balancer.healthy)
            for prober in probers:
                healthy[prober.server.index] = prober.healthy
            balancer.set_initial_health(healthy)
        if config.slow_start is not None:
            SlowStarter(self.env, balancer, config.slow_start, self.recorder)
        if passive is not None:
            passive_checker(
                passive,
                self.env,
                balancer,
                self.recorder,
                probers,
                stream(seed, f"outlier{suffix}"),
                self.active,
            )
        return balancer

    def _regional(self) -> Regional:
        """DNS and the network in front of the regions' balancer instances."""
        regional = Regional(
            self.env,
            self.scenario,
            self._clients,
            self.reached,
            self.recorder,
            lambda region: any(self.instances[i][0].up for i in regional.instances_of(region)),
            self.active,
        )
        instance = column(self.recorder.balancer)
        if self.fronts:
            fronts = self.fronts
            regional.enter = lambda request: fronts[instance[request]].arrive(request)
        else:
            balancers = self.balancers  # one per instance: answers come back by this column
            regional.enter = lambda request: balancers[instance[request]].dispatch(request)
        return regional

    def _region_event(self, name: str, up: bool) -> None:
        """A whole region failed or recovered (from the timeline)."""
        assert self.regional is not None
        region = [r.name for r in self.scenario.regions].index(name)
        for index in self.regional.instances_of(region):
            self._balancer_event(index, up)

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
            origin=origins(self.scenario.clients.mix, self.workload.request_class),
        )
        table.on_close = self._connection_closed
        return table

    def _connection_closed(self, slot: int, host: int, lifetime: float) -> None:
        balancer = self.balancers[slot]
        assert isinstance(balancer, PinnedBalancer)  # only a pinned connection is bound
        balancer.connection_closed(host, lifetime)

    def _done(self, job: int, backend: int, status: int) -> None:
        self.balancers[self._route[job >> ATTEMPT_BITS]].complete(job, backend, status)

    def _arrive(self, request: int) -> None:
        self.balancers[self._balancer_of(request)].dispatch(request)

    def _balancer_of(self, request: int) -> int:
        """The instance ``request`` goes to (DNS's for its client, or the
        active one of a pair), noted for its answer."""
        client_lb = self._client_lb
        lb = int(client_lb[self._clients[request]]) if client_lb is not None else self._serving
        self._route[request] = lb
        return lb

    def _arrive_fronted(self, request: int) -> None:
        client_lb = self._client_lb
        lb = int(client_lb[self._clients[request]]) if client_lb is not None else self._serving
        self.fronts[lb].arrive(request)

    def _pool_event(self, event: TimelineEvent) -> None:
        """A ``shift`` of a pool's version weights (from the timeline)."""
        self.rollouts[event.target].shift(event)

    def _balancer_event(self, index: int, up: bool) -> None:
        """A balancer instance crashed or recovered (from the timeline)."""
        for balancer in self.instances[index]:
            if up:
                balancer.recover()
            else:
                inflight = np.frombuffer(self.state.inflight, dtype=np.uint8)
                mine = (
                    self._slots == balancer.slot if self.fronts else self.recorder.balancer == index
                )
                balancer.crash(np.flatnonzero((inflight == 1) & mine))
        config = self.scenario.balancer
        if config.mode == "active_passive" and not self.instances[self._serving][0].up:
            # VRRP: an instance that is up claims the address after failover_time
            Timeout(self.env, config.failover_time).callbacks.append(self._takeover)

    def _takeover(self, event: Timeout) -> None:
        if self.instances[self._serving][0].up:
            return
        standby = next((c[0].index for c in self.instances if c[0].up), None)
        if standby is not None:
            self._serving = standby
            self.recorder.log(self.env.now, "takeover", f"lb-{standby}")

    def _sample(self, event: object = None) -> None:
        if self._sampler is None:  # the world is complete: its parts are known
            self._sampler = LevelSampler(self.servers, self.balancers, self.instances, self.fronts)
        levels, views = self._sampler.sample()
        self.recorder.sample(self.env.now, levels, views)
        period = self.sampling
        if self.env.now >= self.scenario.duration:
            period *= self._drain_stretch
        if self.active() and self.env.now + period <= self.end_time:
            self.env.after(period, self._sample)

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
        ``scenario.sampling`` (500 samples) unless that makes more than about
        one server read per ``READS_PER_REQUEST`` requests: a sample reads
        the servers that changed since the last one (lbsim.engine.sampler),
        all of them once each server sees an event or two per period, so big
        clusters get ``requests / (servers * READS_PER_REQUEST)`` samples, at
        least ``MIN_SAMPLES`` (the time series' rows, samples x servers,
        stay below the number of requests too)."""
        scenario = self.scenario
        if scenario.sample_interval is not None:
            return scenario.sampling
        servers = max(len(self.servers), 1)
        samples = max(MIN_SAMPLES, len(self.workload) // (servers * READS_PER_REQUEST))
        return max(scenario.sampling, scenario.duration / samples)

    @property
    def _drain_stretch(self) -> float:
        """How many times longer the default sampling period is in the drain:
        a drain longer than the run is sampled no more often than the run
        was (``drain_time / duration``), so a short run with a long drain
        cannot take ``duration / 500`` samples for as long as the drain lasts.
        An explicit ``sample_interval`` holds throughout (1)."""
        scenario = self.scenario
        if scenario.sample_interval is not None or scenario.duration <= 0:
            return 1.0
        return max(1.0, scenario.drain_time / scenario.duration)

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
        fallback: Callable[[int], None] = self._arrive_fronted if self.fronts else self._arrive
        if len(self.fronts) == 1:  # one instance: nothing to choose
            fallback = self.fronts[0].arrive
        if self.regional is not None:
            fallback = self.regional.arrive
        times: Sequence[float] = self._arrival
        arrive, feeds = fallback, dict[str, Any]()  # the run loop's balancers of arrivals
        if fallback == self._arrive:  # not through a front or DNS regions: lbsim.engine.hotpath
            one = self._client_lb is None and len(self.balancers) == 1 and sessions is None
            feeds = {"single": 0} if one else {"resolve": self._balancer_of}
            arrive = self.balancer.dispatch if one else fallback
        hedge = self.scenario.clients.hedge
        if hedge is not None and self.calls is not None:
            balancers = [b for b in self.balancers if isinstance(b, HedgingBalancer)]
            calls = self.calls
            self._hedging = Hedging(
                hedge, calls.backup, calls.sibling, self.state, balancers, self._route, arrive
            )
            arrive, feeds = self._hedging.arrive, {}
        if sessions is not None and self.workload.session is not None:
            (times, arrive), feeds = sessions.feed(arrive), {}
        arrivals = Arrivals(self.env, times, arrive)
        self._arrivals = arrivals
        hot = hot_path(self.servers, self.totals, self.balancers, self._route, self._done, **feeds)
        self._sample()
        Timeout(self.env, self.scenario.warmup).callbacks.append(self._window_opens)
        end = self.end_time
        # The collector is off during the loop. No full collect before it (about
        # 0.1 s once pandas is loaded, seven times a small sweep run) and no
        # gc.freeze (idle while the collector is off; unfreeze then put the world
        # in the oldest generation, where its garbage outlived the run).
        enabled = gc.isenabled()
        gc.disable()
        try:
            for chunk in range(1, CHUNKS + 1):
                if self.env.peek() == float("inf") and not arrivals.pending():
                    break
                advance(self.env, end * chunk / CHUNKS, arrivals, hot)
                if progress is not None:
                    progress(chunk / CHUNKS)
        finally:
            if enabled:
                gc.enable()
        if progress is not None:
            progress(1.0)
        for server in self.servers:
            server.finish_accounting()
        self.recorder.busy_area[:] = [s.busy_area for s in self.servers]
        self.recorder.queue_area[:] = [s.queue_area for s in self.servers]
        self.recorder.queue_peak[:] = [s.queue_peak for s in self.servers]
        stations = [front.station for front in self.fronts if front.station is not None]
        for station in stations:
            station.finish_accounting()
        self.recorder.lb_busy_area = np.array([s.busy_area for s in stations])
        self.recorder.lb_queue_area = np.array([s.queue_area for s in stations])
        self.recorder.lb_queue_peak = np.array([s.queue_peak for s in stations], dtype=np.int64)
        if self.connections is not None:
            self.recorder.connections = self.connections.stats()
        if sessions is not None:  # sent requests in arrival order (closed-loop sessions)
            self.workload = sessions.realised()
        if self.calls is not None:  # one row per request again, as the clients made them
            self.workload = self.requested
            sent = self._hedging.dispatched if self._hedging is not None else None
            return self.calls.collapse(self.recorder, sent)
        return self.recorder


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
