"""The world's run loop, with the two event kinds of every request inlined.

:func:`advance` takes every event from SimPy's queue and every arrival from
the sorted workload array in SimPy's order: the next arrival holds the
sequence number it would have had as a Timeout (drawn when the previous one
arrived) and is taken when its ``(time, NORMAL, eid)`` comes first, so event
order and every record are exactly those of one Timeout per arrival.

Most of a run is two kinds of event, and the loop handles them itself, with
the hot state of each balancer in locals (bound when the balancer changes):

* a request sent: an arrival, or (with closed-loop sessions) the first
  request of a session that starts or the next one after a think time
  (``SessionDriver._next``). It goes to a balancer instance (the world's only
  one, or the one DNS or the active-passive pair gives it) or through its
  instance's layer-7 front (``Front.admit``: routed, and charged on the
  balancer CPU, which keeps it if it has one). If the balancer is a running
  :class:`~lbsim.engine.balancer.Balancer` (or a connected one, whose
  request first rides its connection) its first attempt is persisted or
  balanced and sent (``Balancer.dispatch``) and the server takes it
  (``Server.accept``), serving it at once (``Server._serve``) or queueing it;
* a service end (:func:`~lbsim.engine.servers.service_end`) at a server of
  the world (a session store or a contended row, with columns of their own,
  take the method):
  the server starts its next job (``Server._finish``) and, if the answer
  goes to a plain balancer, the balancer takes it (``Balancer.complete``).

Every feature off that path is a flag test that hands the event to the
method doing the general case (a balancer that is down or has a dispatch
of its own; a server that is down, hung or failing; a probe; a retried
request; a full queue), and the hooks a scenario uses (timeouts, algorithm
hooks, outcome listeners, session hooks) are called where the methods call
them. The methods stay the one definition of each rule and the loop is
their common case written out: a change to one of them must be made here
too, and tests/engine/test_hotpath.py runs scenarios with and without this
path and compares every record. Any other event is a handler call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from heapq import heappop, heappush
from typing import Any, NamedTuple

from simpy.events import NORMAL

from lbsim.algorithms.base import FIRST_ATTEMPT, RequestView
from lbsim.engine.balancer import NOTHING_TRIED, PENDING, Balancer
from lbsim.engine.connected import ConnectedBalancer
from lbsim.engine.connections import ConnectionTable
from lbsim.engine.front import Front, round_trips_end
from lbsim.engine.loop import Arrivals, Loop, Timers
from lbsim.engine.records import NO_BACKEND, OK, REJECTED, Column, Recorder
from lbsim.engine.servers import ATTEMPT_BITS, ATTEMPT_MASK, Done, Server, service_end
from lbsim.engine.state import Totals
from lbsim.engine.station import Station, cpu_end

INFINITY = float("inf")


class Plan(NamedTuple):
    """A balancer's hot state, as the loop binds it to locals."""

    balancer: Balancer
    sends: bool  # its dispatch is inlined
    answers: bool  # its complete is inlined
    pick: Callable[[Any], int | None]
    view: RequestView | None  # None: the algorithm is request-blind (FIRST_ATTEMPT)
    keys: Column
    client_ids: Column
    on_send: Callable[[int], None] | None
    on_complete: Callable[[int, float, int], None] | None
    load: list[int]
    expiries: Timers
    try_expiries: Timers | None  # None: no per-try timeout
    listeners: list[Callable[[int, int], None]]
    finished: Callable[[int], None] | None
    recorder: Recorder
    persist: Callable[[int], int | None] | None  # session persistence (a cookie's host)
    table: ConnectionTable | None  # the connections its requests ride


def plan(balancer: Balancer) -> Plan:
    """``balancer``'s plan: a subclass of Balancer whose dispatch (or
    complete) is its own is not inlined there (its events go to its
    methods); a connected one's dispatch is put on its connection first. The
    shared view is for a request-blind algorithm's own pick only (not a
    wrapper of it)."""
    kind = type(balancer)
    algorithm = balancer.algorithm
    blind = getattr(algorithm, "request_blind", False) is True and balancer._pick == algorithm.pick
    connected = isinstance(balancer, ConnectedBalancer)
    return Plan(
        balancer,
        kind.dispatch is (ConnectedBalancer.dispatch if connected else Balancer.dispatch),
        kind.complete is Balancer.complete,
        balancer._pick,
        None if blind else balancer._view,
        balancer._keys,
        balancer._client_ids,
        balancer._on_send,
        balancer._on_complete,
        balancer._load,
        balancer._expiries,
        balancer._try_expiries if balancer._per_try is not None else None,
        balancer.outcome_listeners,
        balancer.finished,
        balancer.recorder,
        balancer.persist,
        balancer.table if isinstance(balancer, ConnectedBalancer) else None,
    )


class HotPath(NamedTuple):
    """Where :func:`advance` sends what it inlines.

    Arrivals go to ``single`` (an index into ``plans``, one per balancer of
    the world), or to the balancer ``resolve(request)`` names (-1: none, it
    saw to the request itself); with neither, each arrival is
    ``arrive(request)``. With ``firsts`` the arrivals are session starts,
    each sending request ``firsts[session]``, and an event whose handler is
    ``think`` sends its session's next request. With plans, a request
    through a front's TLS round trips, or its CPU (the front of each
    station in ``cpus``), goes on to its balancer (``Front._forward``,
    ``Front._ready``). A server's answer goes to the balancer
    ``route[request]`` if its ``done`` is ``routed``; any other
    ``done`` is called.
    """

    servers: Sequence[Server]
    totals: Totals
    plans: Sequence[Plan] = ()
    route: Column = None
    routed: Done | None = None
    single: int | None = None
    resolve: Callable[[int], int] | None = None
    firsts: Sequence[int] | None = None
    think: Callable[[int], None] | None = None
    cpus: Mapping[Station, Front] = {}  # (shared, never mutated)


def hot_path(
    servers: Sequence[Server],
    totals: Totals,
    balancers: Sequence[Balancer],
    route: Column,
    routed: Done,
    *,
    single: int | None = None,
    resolve: Callable[[int], int] | None = None,
    firsts: Sequence[int] | None = None,
    think: Callable[[int], None] | None = None,
    fronts: Sequence[Front] = (),
) -> HotPath:
    """The inlined path of a world. It rewrites ``server.done``: each server
    whose ``done`` is (equal to) ``routed`` is given that one object, which
    the loop knows by identity."""
    for server in servers:
        if server.done == routed:
            server.done = routed
    plans = [plan(balancer) for balancer in balancers]
    cpus = {front.station: front for front in fronts if front.station is not None}
    return HotPath(servers, totals, plans, route, routed, single, resolve, firsts, think, cpus)


def advance(env: Loop, until: float, arrivals: Arrivals, hot: HotPath) -> None:
    """Process every event (and arrival) before ``until``; now is ``until`` after."""
    queue: list[Any] = env._queue
    eids = env._eid
    times = arrivals.times
    arrive = arrivals.arrive
    count = len(times)
    cursor = arrivals.next
    at, eid = arrivals.time, arrivals.eid
    if cursor >= count:
        at = INFINITY
    totals, servers, plans, resolve = hot.totals, hot.servers, hot.plans, hot.resolve
    single = plans[hot.single] if hot.single is not None else None
    route, routed, firsts, think = hot.route, hot.routed, hot.firsts, hot.think
    cpus = hot.cpus
    end_of_cpu = cpu_end if cpus else None
    end_of_trips = round_trips_end if plans else None
    if servers:  # the columns and the window of the world's servers
        first = servers[0]
        demand, start, tries, inflight = first._demand, first._start, first._tries, first._inflight
        lo, hi = first._lo, first._hi
    if plans:  # columns every balancer shares
        shared = plans[0].balancer
        sent, backends, status, ends = shared._sent, shared._server, shared._status, shared._end
    bound: Plan | None = None  # the plan in the locals below
    push, pop, end_of_service, normal, bits, mask = (
        heappush,
        heappop,
        service_end,
        NORMAL,
        ATTEMPT_BITS,
        ATTEMPT_MASK,
    )
    while True:
        if queue:
            entry = queue[0]
            now = entry[0]
            event = now < at or (now == at and (entry[1], entry[2]) < (normal, eid))
        else:
            event = False
        if not event:  # ---------------------------------------- an arrival
            if at >= until:
                break
            env._now = now = at
            fed = True
            request = cursor if firsts is None else firsts[cursor]
            slot = -1
        else:  # ------------------------------------------------- an event
            if now >= until:
                break
            pop(queue)
            env._now = now
            handler = entry[3]
            if handler is end_of_service:
                server, job = entry[4]
                if server._start is not start or server._demand is not demand:
                    server._finish(job)  # columns of its own: a session store, a contended row
                    continue
                serving = server.serving  # Server._finish, inlined
                if serving.pop(job, None) is None:
                    continue  # lost in a crash or frozen by a hang
                if not server.dirty:
                    server.dirty = True
                    server.changed.append(server)
                totals.jobs -= 1
                waiting = server.queue
                if waiting:
                    server.queue_area += now if lo <= now <= hi else (lo if now < lo else hi)
                    following = waiting.popleft()
                    if following < 0:
                        server._serve(following)
                    else:  # Server._serve, inlined
                        served = following >> bits
                        if (following & mask) == tries[served] and inflight[served]:
                            start[served] = now
                        end = now + demand[served] * server.slowdown / server.speed
                        serving[following] = end
                        if end > lo and now < hi:
                            server.busy_area += (end if end < hi else hi) - (
                                now if now > lo else lo
                            )
                        push(queue, (end, normal, next(eids), end_of_service, (server, following)))
                else:
                    server.busy -= 1
                if job < 0:
                    server.probes.pop(job)[1](True)
                    continue
                answered = job >> bits
                done = server.done
                target = plans[route[answered]] if done is routed else None
                if target is not bound and target is not None:
                    bound = target
                    (balancer, sends, answers, pick, view, keys, client_ids, on_send, on_complete,
                     load, expiries, try_expiries, listeners, finished, recorder, persist,
                     table) = target  # fmt: skip
                if target is None or not answers:
                    done(job, server.index, OK)
                    continue
                attempt = tries[answered]  # Balancer.complete of an answer, inlined
                if (job & mask) != attempt or not inflight[answered]:
                    recorder.abandoned += 1  # an abandoned attempt: the work was wasted
                    continue
                inflight[answered] = 0
                backend = server.index
                load[backend] -= 1
                totals.outstanding -= 1
                if on_complete is not None:
                    on_complete(backend, now - sent[answered], OK)
                if listeners:
                    for listener in listeners:
                        listener(backend, OK)
                if attempt:
                    balancer._finish(answered, OK)
                else:
                    ends[answered] = now
                    status[answered] = OK
                    if finished is not None:
                        finished(answered)
                continue
            fed = False
            if handler is think:
                totals.thinking -= 1  # a session's next request (SessionDriver._next, inlined)
                request = entry[4]
                slot = -1
            elif handler is end_of_cpu:  # a balancer CPU is done with a request (cpu_end)
                station, request = entry[4]
                station.free()
                totals.jobs -= 1  # Front._served, inlined
                slot = cpus[station]._ready(request)
                if slot < 0:
                    continue
            elif handler is end_of_trips:  # its TLS round trips are over (Front._forward)
                front, request = entry[4]
                totals.jobs -= 1
                if status[request] != PENDING:
                    continue  # timed out meanwhile
                slot = front._slots[request]
            else:
                handler(entry[4])
                continue
        # ------------------------------------------------ a request is sent
        if slot >= 0:
            target = plans[slot]
        elif resolve is None:
            target = single
        else:
            index = resolve(request)
            target = plans[index] if index >= 0 else None
        if target is None:
            if resolve is None:
                arrive(cursor)  # nothing inlined
        else:
            if target is not bound:
                bound = target
                (balancer, sends, answers, pick, view, keys, client_ids, on_send, on_complete,
                 load, expiries, try_expiries, listeners, finished, recorder, persist,
                 table) = target  # fmt: skip
            if not sends or not balancer.up:
                balancer.dispatch(request)
            else:  # Balancer.dispatch of a first attempt, inlined
                if table is not None:  # ConnectedBalancer.dispatch: on its connection first
                    balancer._view.connection_id = table.ride(request, balancer.index)
                if balancer._timeout is not None:
                    expiries.add(request)
                if persist is None or (backend := persist(request)) is None:
                    if view is None:
                        backend = pick(FIRST_ATTEMPT)
                    else:
                        view.hash_key = view.client_address = keys[request]
                        view.client_id = client_ids[request]
                        view.attempt = 0
                        view.tried = NOTHING_TRIED
                        backend = pick(view)
                if backend is None:
                    balancer._failed(request, NO_BACKEND)
                else:
                    load[backend] += 1
                    totals.outstanding += 1
                    if on_send is not None:
                        on_send(backend)
                    balancer.traffic_seen = True
                    backends[request] = backend
                    sent[request] = now
                    inflight[request] = 1
                    job = request << bits
                    if try_expiries is not None:
                        try_expiries.add(job)
                    server = balancer.servers[backend]
                    if not server.dirty:  # Server.accept, inlined
                        server.dirty = True
                        server.changed.append(server)
                    if (
                        not server.up
                        or server.hung
                        or server.error_rate
                        or server._demand is not demand
                    ):
                        server.accept(job)  # (a contended row draws its own demands)
                    elif server.busy < server.workers:
                        server.busy += 1
                        totals.jobs += 1
                        # Server._serve, inlined: the attempt was just sent, so awaited
                        start[request] = now
                        end = now + demand[request] * server.slowdown / server.speed
                        server.serving[job] = end
                        if end > lo and now < hi:
                            server.busy_area += (end if end < hi else hi) - (
                                now if now > lo else lo
                            )
                        push(queue, (end, normal, next(eids), end_of_service, (server, job)))
                    elif len(server.queue) < server.queue_limit:
                        totals.jobs += 1
                        waiting = server.queue
                        waiting.append(job)
                        if lo <= now <= hi:
                            server.queue_area -= now
                            if len(waiting) > server.queue_peak:
                                server.queue_peak = len(waiting)
                        else:
                            server.queue_area -= lo if now < lo else hi
                    else:
                        server._fail(job, REJECTED)
        if fed:  # the next arrival
            cursor += 1
            arrivals.next = cursor
            if cursor < count:
                delay = times[cursor] - at
                at = at + delay if delay > 0 else at + 0.0
                eid = next(eids)
            else:
                at = INFINITY
    arrivals.time, arrivals.eid = at, eid
    env._now = until
