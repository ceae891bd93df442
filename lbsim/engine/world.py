"""A SimPy world built from one scenario variant, and its run.

Build: draw nothing here (the workload comes ready from the client side);
create the servers, then the balancer instances
(:mod:`lbsim.engine.clusters`), each with its own view, algorithm and
stream, its health probers (their initial verdicts applied in one refresh,
so building is O(n); they share one timer list per interval), passive
checker and slow start; closed-loop sessions, persistence, a session store
or contended rows through one :class:`~lbsim.engine.sessions.SessionDriver`
hooked into them; the connection table, regions and autoscalers
(:mod:`lbsim.engine.assembly`); then the failure timeline. Run: the run loop
(:mod:`lbsim.engine.hotpath`) takes the arrivals from the sorted workload
array and hands each to its balancer (the only one, DNS round robin over
instances, or the active one of a pair), services end by one heap entry
each, completions are routed back to the balancer that sent them (the
common case of each written out in the loop), and a sampler records levels
every ``sample_interval``, reading only the servers that changed since the
last sample (:mod:`lbsim.engine.sampler`; a drain longer than the run is
sampled no more often than the run). The simulation advances in chunks so
a caller can show progress without any per-event cost. Whether anything is left to do
(:meth:`World.active`) is read from running totals, not a scan.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from simpy.events import Timeout

from lbsim.engine import load_reports, patterns
from lbsim.engine.assembly import connection_table, regional, scalers
from lbsim.engine.balancer import Balancer
from lbsim.engine.canary import Rollout
from lbsim.engine.clusters import build_cluster
from lbsim.engine.connected import PinnedBalancer
from lbsim.engine.contention import LoadedServer
from lbsim.engine.faults import Faults
from lbsim.engine.front import Front
from lbsim.engine.health import Prober, ProbeTimers
from lbsim.engine.hedging import Hedging, HedgingBalancer
from lbsim.engine.hotpath import advance
from lbsim.engine.hotplan import hot_path
from lbsim.engine.layer7 import build_layer7, is_layer7
from lbsim.engine.loop import Arrivals, Loop
from lbsim.engine.records import L7_FACTS, REGION_FACTS, Recorder, column
from lbsim.engine.regions import instance_members
from lbsim.engine.sampler import LevelSampler, drain_stretch, sampling_period
from lbsim.engine.servers import ATTEMPT_BITS, LazyUniforms, Server
from lbsim.engine.sessions import SessionDriver, needs_driver
from lbsim.engine.state import RequestState, Totals
from lbsim.engine.windows import WindowedRun
from lbsim.engine.workload import Workload
from lbsim.scenario import HealthCheck, Scenario, TimelineEvent
from lbsim.streams import stream

Progress = Callable[[float], None]  # fraction of simulated time done, 0..1

CHUNKS = 200


class World:
    """Servers, balancer, recorder and the SimPy environment of one variant."""

    def __init__(
        self, scenario: Scenario, workload: Workload, windowed: WindowedRun | None = None
    ) -> None:
        """``windowed``: the run's workload is ``windowed.workload``, drawn and
        given back window by window (:mod:`lbsim.engine.windows`)."""
        self.scenario = scenario
        self.windowed = windowed
        arena = windowed.arena if windowed is not None else None
        full, flags = (np.full, bytearray) if arena is None else (arena.full, arena.flags)
        self.requested = workload  # the requests as the clients made them
        self.calls = patterns.expand(scenario, workload)  # hedged or fan-out requests
        if self.calls is not None:
            workload = self.calls.workload  # the balancer sees each call as a request
        self.workload = workload
        self._hedging: Hedging | None = None
        self.env = Loop()
        self.totals = Totals()
        self.state = RequestState(len(workload), full, flags)
        layer7 = is_layer7(scenario)
        facts = (L7_FACTS if layer7 else ()) + (REGION_FACTS if scenario.regions else ())
        self.recorder = Recorder(
            len(workload),
            sum(pool.hosts for pool in scenario.servers),
            shared=self.state.columns(),
            optional=[fact.name for fact in facts],
            full=full,
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
        keys = workload.client_ips[workload.client] if windowed is None else windowed.keys
        self._keys = column(keys)
        self._client_ids = column(workload.client)
        self.balancers: list[Balancer] = []  # every cluster of every instance
        self.instances: list[list[Balancer]] = []  # the clusters of each instance
        self.fronts: list[Front] = []
        self.rollouts: dict[str, Rollout] = {}  # by pool name (pools with versions)
        self.connections = connection_table(self.env, scenario, workload, len(self.servers), window)
        if self.connections is not None:
            self.connections.on_close = self._connection_closed
        self._probe_timers = ProbeTimers(self.env)  # health probes' timer lists, by interval
        if not is_layer7(scenario):
            for index, members in enumerate(instance_members(scenario)):
                # Each instance has its own view and its own algorithm (Envoy's
                # per-worker balancers; one LB node per zone in ALB).
                suffix = f"/{index}" if index else ""
                balancer = build_cluster(
                    self,
                    index,
                    suffix,
                    members,
                    config.algorithm,
                    config.health_check,
                    config.passive,
                )
                self.instances.append([balancer])
        else:
            self._slots = np.zeros(len(workload), dtype=np.int32)
            build_layer7(self, partial(build_cluster, self), self._slots)
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
        self.regional = regional(self, self._clients) if scenario.regions else None
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
        self.scalers = scalers(self, self._probers)

    def _region_event(self, name: str, up: bool) -> None:
        """A whole region failed or recovered (from the timeline)."""
        assert self.regional is not None
        region = [r.name for r in self.scenario.regions].index(name)
        for index in self.regional.instances_of(region):
            self._balancer_event(index, up)

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
        slot = self._admit_fronted(request)
        if slot >= 0:
            self.balancers[slot].dispatch(request)

    def _admit_fronted(self, request: int) -> int:
        """``request`` through its instance's front (DNS's for its client, or
        the active one of a pair): the slot of the balancer to dispatch it
        to now, or -1 (see :meth:`Front.admit`)."""
        client_lb = self._client_lb
        lb = int(client_lb[self._clients[request]]) if client_lb is not None else self._serving
        return self.fronts[lb].admit(request)

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
        requests = len(self.workload) if self.windowed is None else self.windowed.count
        period = sampling_period(self.scenario, len(self.servers), requests)
        if self.env.now >= self.scenario.duration:
            period *= drain_stretch(self.scenario)
        if self.active() and self.env.now + period <= self.end_time:
            self.env.after(period, self._sample)

    def _window_opens(self, event: Timeout) -> None:
        for server in self.servers:
            server.window_opens()

    def active(self) -> bool:
        """Whether requests are still to come or in flight."""
        arrivals = self._arrivals
        pending = arrivals.pending() if arrivals is not None else bool(self._arrival)
        sessions = self.sessions
        return (
            pending
            or self.totals.any()
            or (sessions is not None and sessions.facts is not None and sessions.thinking())
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
        sessions = self.sessions
        fallback: Callable[[int], None] = self._arrive_fronted if self.fronts else self._arrive
        if len(self.fronts) == 1:  # one instance: nothing to choose
            fallback = self.fronts[0].arrive
        if self.regional is not None:
            fallback = self.regional.arrive
        windowed = self.windowed
        times: Sequence[float] = self._arrival
        if windowed is not None:
            times = self._arrival[: windowed.draw_until(0.0)]
        arrive, feeds = fallback, dict[str, Any]()  # the run loop's balancers of arrivals
        if fallback == self._arrive:  # not through a front or DNS regions: lbsim.engine.hotpath
            one = self._client_lb is None and len(self.balancers) == 1
            feeds = {"single": 0} if one else {"resolve": self._balancer_of}
            arrive = self.balancer.dispatch if one else fallback
        elif self.regional is None:  # through a front
            one_front = len(self.fronts) == 1
            feeds = {"resolve": self.fronts[0].admit if one_front else self._admit_fronted}
        hedge = self.scenario.clients.hedge
        if hedge is not None and self.calls is not None:
            balancers = [b for b in self.balancers if isinstance(b, HedgingBalancer)]
            calls = self.calls
            self._hedging = Hedging(
                hedge, calls.backup, calls.sibling, self.state, balancers, self._route, arrive
            )
            arrive, feeds = self._hedging.arrive, {}
        if sessions is not None and self.workload.session is not None:
            times, arrive = sessions.feed(arrive)
            if feeds:  # the loop starts sessions and sends their later requests itself
                feeds.update(firsts=sessions.firsts, think=sessions.thought)
        arrivals = Arrivals(self.env, times, arrive)
        self._arrivals = arrivals
        hot = hot_path(
            self.servers,
            self.totals,
            self.balancers,
            self._route,
            self._done,
            fronts=self.fronts,
            table=self.connections,
            sessions=sessions,
            **feeds,
        )
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
                until = end * chunk / CHUNKS
                if windowed is None:
                    advance(self.env, until, arrivals, hot)
                else:  # stopping at each window edge too, to draw and fold there
                    for stop in [*windowed.stops(end * (chunk - 1) / CHUNKS, until), until]:
                        arrivals.times = self._arrival[: windowed.draw_until(stop)]
                        advance(self.env, stop, arrivals, hot)
                        windowed.fold_over(self.recorder, self.servers, arrivals.next)
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
            self.recorder.connections = self.connections.stats(end * CHUNKS / CHUNKS)
        if hot.front is not None:
            sent = ~np.isnan(sessions.arrival) if sessions is not None else None
            hot.front.record_routes(sent)
        if sessions is not None:  # sent requests in arrival order (closed-loop sessions)
            self.workload = sessions.realised()
        if windowed is not None:
            self.workload = windowed.finish(self.recorder)
        if self.calls is not None:  # one row per request again, as the clients made them
            self.workload = self.requested
            sent = self._hedging.dispatched if self._hedging is not None else None
            return self.calls.collapse(self.recorder, sent)
        return self.recorder
