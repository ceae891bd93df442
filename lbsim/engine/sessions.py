"""Closed-loop sessions, session persistence, the session store and
contended rows: what happens around a request that the open-loop engine
does not do by itself, on the same request path (balancer, servers).

**Sessions.** Session starts are an open loop (pre-drawn arrival times fed
like requests); within a session the loop is closed: a request is sent
``think`` seconds after the previous one ended, ok or not, until the session
has sent its ``requests`` or the next one would leave after ``duration``.
Every demand and think time was drawn before the run
(:func:`lbsim.engine.workload.session_workload`), so each variant replays
each session's sequence (common random numbers); only the send times
differ. After the run the requests that were sent are put in arrival order,
the form every analysis expects (:meth:`SessionDriver.realised`).

**Where state lives.** A session's state lives on the server of its first
``ok`` answer (its *home*). When a later ``ok`` answer comes from another
server, or from its home after that server crashed or hung (a restart wipes
memory), the state is gone: the session is counted lost (once) and the new
server becomes its home (the cookie is rewritten). With a ``session_store``
state is shared and nothing is lost. With several ``routes`` a session has a
home per route (each backend sets its own cookie, as HAProxy's ``cookie`` is
a backend setting); the reported home is the first one.

**Persistence** (``balancer.sticky``). ``{cookie: NAME}``: a first attempt
whose session has a home goes there while this balancer believes it healthy,
not ejected and not drained; otherwise it is balanced as usual. This is
HAProxy's rule (persistence overrides ``balance``; a cookie to a DOWN server is
not followed without ``option persist``; ``option redispatch`` lets a retry
break persistence, configuration.txt), NGINX's ``sticky`` (the sticky peer
unless it is down, failed or full, ngx_http_upstream_round_robin.c) and ALB's
``lb_cookie`` stickiness (a deregistering target gets no new requests: a
drained host breaks the cookie here, where NGINX's ``drain`` would still take
it). A cookie naming a server outside the cluster a request goes to (another
version of a canary pool) is not followed. Retries follow
``retries.redispatch``: resent to the same server, or balanced anew (the
redispatch). ``source_ip`` is the hashing algorithm's own
affinity (NGINX ``ip_hash``, HAProxy ``balance source``, Envoy's ``source_ip``
hash policy): all clients behind one NAT address share a server.

**Session store.** A station (a :class:`~lbsim.engine.servers.Server`) every
``ok`` answer visits before it returns; its own workers, service time and
queue limit; when it refuses, is down or errs, the server answers 5xx.

**Network round trip** (``clients.rtt``): each answer reaches the client a
drawn round trip after the server (or the store) gave it, from its own
stream; the time shows in ``latency_service``.

**Contention** (``contention: optimistic``): each such server is one row under
optimistic concurrency control, as in the AWS "Exponential Backoff and
Jitter" simulator (aws-samples/aws-arch-backoff-simulator): a request reads
the row's version when its service starts and its conditional write at the
end succeeds only if no other write succeeded in between; otherwise it fails
(``server_error``) and the client may retry. Each attempt is a new read and
write, so a retry draws a new service time (stream ``occ-attempts``) where
other servers serve a retry for the request's one demand.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from functools import partial
from heapq import heappush
from typing import TYPE_CHECKING, Any

import numpy as np
from simpy.events import NORMAL

from lbsim.algorithms.draws import Uniforms
from lbsim.engine.balancer import Balancer
from lbsim.engine.loop import Handler
from lbsim.engine.records import OK, SERVER_ERROR, SessionFacts, column
from lbsim.engine.servers import ATTEMPT_BITS, ATTEMPT_MASK, Server
from lbsim.engine.workload import Workload
from lbsim.scenario import Scenario
from lbsim.scenario.dists import Distribution
from lbsim.scenario.models.sessions import Cookie
from lbsim.streams import stream

if TYPE_CHECKING:
    from lbsim.engine.world import World

WIPES = ("crash", "hang")  # events after which a server's memory is gone
REQUEST_CONNECTION_FACTS = ("request_connection", "request_opened")  # per request


def needs_driver(scenario: Scenario) -> bool:
    """Whether ``scenario`` uses sessions, a session store, a contended row or a network RTT."""
    return (
        scenario.clients.sessions is not None
        or scenario.clients.rtt is not None
        or scenario.session_store is not None
        or any(pool.contention != "none" for pool in scenario.servers)
    )


class SessionDriver:
    """Sessions, persistence, store and contention of one world (module docstring)."""

    def __init__(self, world: World) -> None:
        scenario = world.scenario
        workload = world.workload
        self.env = world.env
        self.workload = workload
        self.recorder = world.recorder
        self.totals = world.totals
        self.duration = scenario.duration
        # realised send times (NaN: never sent); when a request reached its
        # balancer, the same without a network (None) else its own copy
        network = bool(scenario.regions)
        self.arrival = workload.arrival.copy() if network else world.reached
        self._arrival = column(self.arrival)
        self._reached = column(world.reached) if network else None
        self._status = column(world.state.status)
        self._server = column(world.state.server)
        self._tries = column(world.state.attempt)
        self._start = column(world.recorder.start)
        self._complete = world._done
        rtt = scenario.clients.rtt
        self._rtt = None if rtt is None else _Draws(rtt, stream(scenario.seed, "network-rtt"))
        self.stations: list[Server] = []
        self.facts: SessionFacts | None = None
        self.arrive: Handler = world._arrive
        if workload.session is not None:
            self._sessions(world)
        self.occ = [
            pool.contention == "optimistic" for pool in scenario.servers for _ in range(pool.hosts)
        ]
        self._committed = [-np.inf] * len(world.servers)
        if any(self.occ):
            # each attempt at a row is a new read and write: its own service time
            self._demand = workload.demand.copy()
            self._legs = _Draws(scenario.clients.service, stream(scenario.seed, "occ-attempts"))
            for server, contended in zip(world.servers, self.occ, strict=True):
                if contended:
                    server._demand = column(self._demand)
        self.store: Server | None = None
        if scenario.session_store is not None:
            self.store = self._store(world)
            self.stations.append(self.store)
        if any(self.occ) or self.store is not None or self._rtt is not None:
            for server in world.servers:
                server.done = self._served

    # ------------------------------------------------------------ sessions

    def _sessions(self, world: World) -> None:
        workload = self.workload
        assert workload.session is not None and workload.think is not None
        session = workload.session
        count = int(session[-1]) + 1 if len(session) else 0
        bounds = np.flatnonzero(np.diff(session, prepend=-1, append=count))
        self.firsts = bounds[:-1].tolist()
        self._session = column(session)
        # per request: the think time before the next request of its session
        think_next = np.append(workload.think[1:], np.nan)
        think_next[bounds[1:] - 1] = np.nan  # a session's last request
        self._think_next = column(think_next)
        self.facts = SessionFacts(
            start=workload.arrival[bounds[:-1]].copy(),
            home=np.full(count, -1, dtype=np.int32),
            lost=np.zeros(count, dtype=bool),
        )
        self._first_home = column(self.facts.home)
        self._lost = column(self.facts.lost)
        self._events = world.recorder.events
        # where a request's session keeps its home: per session and route (a
        # front routes by class alone, so the key is known before the run)
        routes = len(world.fronts[0].routes) if world.fronts else 1
        keys = session
        if world.fronts:
            class_route = np.asarray(world.fronts[0].class_route, dtype=np.int64)
            kinds = workload.request_class
            route = class_route[kinds] if kinds is not None else class_route[0]
            keys = session.astype(np.int64) * routes + route
        self._keys = column(keys)
        self._home = [-1] * (count * routes)  # per session and route: its home now
        self._since = [0.0] * (count * routes)  # when that home last answered it
        self._shared = world.scenario.session_store is not None
        self._index = {server.name: server.index for server in world.servers}
        self._wiped: dict[int, list[float]] = {}  # server -> when it crashed or hung
        self._seen = 0  # events of the recorder already read for wipes
        # what the balancers were told of ending requests before (a layer-7
        # connection's release, the same for all): told after the session's own
        before = {balancer.finished for balancer in world.balancers}
        assert len(before) == 1, "one finished hook for every balancer"
        self._then = before.pop()
        self._queue: list[Any] = world.env._queue  # think times: light events, pushed here
        self._eids = world.env._eid
        # the handler of a think time's end and the balancers' finished hook:
        # one object each, known to the run loop by identity
        self.thought: Handler = self._next
        self.finish: Handler = self._finished
        self.cookie = self._persist  # each balancer's persist hook is partial(cookie, balancer)
        sticky = world.scenario.balancer.sticky
        for balancer in world.balancers:
            balancer.finished = self.finish
            if isinstance(sticky, Cookie):
                balancer.persist = partial(self.cookie, balancer)

    def feed(self, arrive: Handler) -> tuple[Sequence[float], Handler]:
        """The open loop of session starts, each handing its first request to ``arrive``."""
        self.arrive = arrive
        assert self.facts is not None
        return column(self.facts.start), self._begin

    def _begin(self, session: int) -> None:
        self.arrive(self.firsts[session])

    def _persist(self, balancer: Balancer, request: int) -> int | None:
        """The session's home if ``balancer`` follows its cookie. (This and
        :meth:`_finished` are written out in :func:`lbsim.engine.hotpath.advance`.)"""
        home = self._home[self._keys[request]]
        return home if home >= 0 and balancer.followable[home] else None

    def _finished(self, request: int) -> None:
        now = self.env._now
        if self._status[request] == OK:
            server = self._server[request]
            key = self._keys[request]
            home = self._home[key]
            if home < 0:
                session = self._session[request]
                if self._first_home[session] < 0:
                    self._first_home[session] = server
            elif not self._shared and (
                server != home
                or (
                    (self._wiped or len(self._events) != self._seen)
                    and self._wiped_since(home, key)
                )
            ):
                self._lost[self._session[request]] = True
            self._home[key] = server
            self._since[key] = now
        sent = now + self._think_next[request]  # NaN after a session's last request
        if sent < self.duration:  # the next request is sent then (its event's time)
            self._arrival[request + 1] = sent
            if self._reached is not None:
                self._reached[request + 1] = sent
            heappush(self._queue, (sent, NORMAL, next(self._eids), self.thought, request + 1))
        if self._then is not None:
            self._then(request)

    def _next(self, request: int) -> None:
        self.arrive(request)

    def thinking(self) -> bool:
        """Whether a session is between an answer and its next request (that
        request's event is on the heap)."""
        thought = self.thought
        return any(entry[3] is thought for entry in self._queue)

    def _wiped_since(self, server: int, key: int) -> bool:
        """Whether ``server`` crashed or hung since it last answered the
        session (and route) ``key``."""
        events = self._events
        for event in events[self._seen :]:
            if event.kind in WIPES and event.target in self._index:
                self._wiped.setdefault(self._index[event.target], []).append(event.time)
        self._seen = len(events)
        times = self._wiped.get(server)
        return times is not None and bisect_right(times, self._since[key]) < len(times)

    # ------------------------------------------------------------ after service

    def _store(self, world: World) -> Server:
        scenario = world.scenario
        config = scenario.session_store
        assert config is not None
        n = len(self.workload)
        demand = config.service.sample(stream(scenario.seed, "store-service"), n)
        self._store_demand = demand.astype(np.float64)
        self._store_start = np.full(n, np.nan)
        return Server(
            world.env,
            len(world.servers),
            config.name,
            workers=config.workers,
            speed=1.0,
            queue_limit=config.queue_limit,
            demand=column(self._store_demand),
            start=column(self._store_start),
            tries=self._tries,
            inflight=world.state.inflight,
            done=self._stored,
            connect_timeout=scenario.balancer.connect_timeout,
            errors=Uniforms(stream(scenario.seed, f"server-errors/{config.name}")),
            window=(scenario.warmup, scenario.duration),
            totals=world.totals,
        )

    def _served(self, job: int, backend: int, status: int) -> None:
        if status == OK and self.occ[backend]:
            status = self._commit(job, backend)
        if status == OK and self.store is not None:
            self.store.accept(job)
        else:
            self._answer(job, backend, status)

    def _answer(self, job: int, backend: int, status: int) -> None:
        if self._rtt is None:
            self._complete(job, backend, status)
        else:  # still outstanding at the balancer while on the wire
            self.env.after(self._rtt.next(), self._arrived, (job, backend, status))

    def _arrived(self, answer: tuple[int, int, int]) -> None:
        self._complete(*answer)

    def _commit(self, job: int, backend: int) -> int:
        request = job >> ATTEMPT_BITS
        if (job & ATTEMPT_MASK) != self._tries[request]:
            return SERVER_ERROR  # an abandoned attempt's write is not applied
        if self._committed[backend] > self._start[request]:
            self._demand[request] = self._legs.next()  # the next attempt's read and write
            return SERVER_ERROR  # the version read at the start is stale: a conflict
        self._committed[backend] = self.env._now
        return OK

    def _stored(self, job: int, store: int, status: int) -> None:
        backend = self._server[job >> ATTEMPT_BITS]
        self._answer(job, backend, OK if status == OK else SERVER_ERROR)

    # ------------------------------------------------------------ after the run

    def realised(self) -> Workload:
        """The workload as it happened: sent requests in arrival order, with the
        recorder's columns put in the same order."""
        if self.store is not None:
            self.store.finish_accounting()
            self.recorder.store_busy_area = self.store.busy_area
        self.recorder.sessions = self.facts
        workload = self.workload
        if workload.session is None:
            return workload
        order = arrival_order(self.arrival)
        rec = self.recorder
        rec.columns = {name: values[order] for name, values in rec.columns.items()}
        rec.n_requests = len(order)
        if rec.connections is not None:
            for name in REQUEST_CONNECTION_FACTS:
                rec.connections[name] = rec.connections[name][order]
        think, kinds = workload.think, workload.request_class
        return Workload(
            self.arrival[order],
            workload.client[order],
            workload.demand[order],
            workload.client_ips,
            None if kinds is None else kinds[order],
            session=workload.session[order],
            think=None if think is None else think[order],
        )


def arrival_order(times: np.ndarray) -> np.ndarray:
    """The indices of the times that are not NaN, by time and, at equal
    times, by index: a stable sort, by the faster unstable one when no two
    times are equal (then both give the one order)."""
    sent = np.flatnonzero(~np.isnan(times))
    keys = times[sent]
    order = np.argsort(keys)
    ranked = keys[order]
    if (ranked[1:] == ranked[:-1]).any():
        order = np.argsort(keys, kind="stable")
    return sent[order]


class _Draws:
    """Values of a distribution drawn one at a time from blocks of one stream."""

    __slots__ = ("_block", "_dist", "_rng")

    def __init__(self, dist: Distribution, rng: np.random.Generator) -> None:
        self._dist = dist
        self._rng = rng
        self._block: list[float] = []

    def next(self) -> float:
        if not self._block:
            self._block = self._dist.sample(self._rng, 1024).tolist()
            self._block.reverse()
        return self._block.pop()
