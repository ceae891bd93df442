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
  balancer CPU, which keeps it if it has one; a lone front without CPU or
  TLS is written out, with the keep-alive connection it puts the request on,
  ``ConnectionTable.assign`` and ``reusable``). If the balancer is a running
  :class:`~lbsim.engine.balancer.Balancer` (or a connected one, whose
  request first rides its connection, ``ConnectionTable.ride``) its first
  attempt is persisted (the cookie, ``SessionDriver._persist``) or balanced
  and sent (``Balancer.dispatch``) and the server takes it
  (``Server.accept``), serving it at once (``Server._serve``) or queueing it;
* a service end (:func:`~lbsim.engine.servers.service_end`) at a server of
  the world (a session store or a contended row, with columns of their own,
  take the method):
  the server starts its next job (``Server._finish``) and, if the answer
  goes to a plain balancer, the balancer takes it (``Balancer.complete``),
  then its session (``SessionDriver._finished``: the session's home, its
  next request's event) and its connection (``ConnectionTable.release``).

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

from heapq import heappop, heappush
from typing import Any

from simpy.events import NORMAL, URGENT

from lbsim.algorithms.base import FIRST_ATTEMPT
from lbsim.engine.balancer import NOTHING_TRIED, PENDING
from lbsim.engine.connections import CLOSED, CLOSING, OPEN
from lbsim.engine.front import round_trips_end
from lbsim.engine.hotplan import HotPath
from lbsim.engine.loop import Arrivals, Loop
from lbsim.engine.records import NO_BACKEND, OK, REJECTED
from lbsim.engine.servers import ATTEMPT_BITS, ATTEMPT_MASK, service_end
from lbsim.engine.station import cpu_end

INFINITY = float("inf")


def _stop(value: None) -> None:
    """The handler of the entry :func:`advance` stops at (never called)."""
    raise AssertionError("the run loop's stop entry was called")


def advance(env: Loop, until: float, arrivals: Arrivals, hot: HotPath) -> None:
    """Process every event (and arrival) before ``until``; now is ``until`` after.

    The loop stops at an entry it puts on the heap at ``until``, before every
    event then (priority URGENT - 1), so the heap is never empty and no event
    is tested against ``until``. (If a handler raises, the entry stays: the
    run is over.)"""
    queue: list[Any] = env._queue
    eids = env._eid
    times = arrivals.times
    arrive = arrivals.arrive
    count = len(times)
    cursor = arrivals.next
    at, eid = arrivals.time, arrivals.eid
    if cursor >= count:
        at = INFINITY
    totals, servers, resolve = hot.totals, hot.servers, hot.resolve
    # plain tuples: CPython 3.11 specialises the unpacking of an exact tuple
    # only, not of a NamedTuple (which costs an iterator call per field)
    plans: list[tuple[Any, ...]] = [tuple(plan) for plan in hot.plans]
    single = plans[hot.single] if hot.single is not None else None
    only = plans[0] if len(plans) == 1 else None  # every answer's balancer
    route, routed, firsts, think = hot.route, hot.routed, hot.firsts, hot.think
    cpus = hot.cpus
    end_of_cpu = cpu_end if cpus else None
    lone = hot.front
    if lone is not None:  # what Front.admit reads and writes
        classes, front_index = hot.classes, lone.index
        # per class: its route's cluster if admitting it is the common case
        # (one version, no timeout of its own), else None (Front.admit)
        clusters = [
            cluster if timeout is None else None
            for cluster, timeout in zip(lone._cluster_of, lone.class_timeouts, strict=True)
        ]
        slots, instances = lone._slots, lone._instance
    pooled, release = hot.table, hot.release  # the world's connections, their release hook
    if pooled is not None:
        riding, of, states, active, left = (
            pooled._riding,
            pooled._of,
            pooled.state,
            pooled.active,
            pooled.left,
        )
        pools, pool_keys, streams = pooled._pools, pooled._keys, pooled.streams
        idle_timeout = pooled.idle_timeout if pooled.idle_timeout is not None else INFINITY
        idle, idle_since, armed = pooled._idle, pooled._idle_since, pooled._armed
        close = pooled.close
    sessions = hot.sessions
    session_end = cookie = None
    if sessions is not None:  # what SessionDriver._finished and _persist read and write
        session_end, then, cookie = sessions.finish, sessions._then, sessions.cookie
        driver = sessions  # (not None below)
        wiped, wiped_since = driver._wiped, driver._wiped_since
        if then is not None and then == release:
            then = release
        session_keys, homes, since, session_of = (
            sessions._keys,
            sessions._home,
            sessions._since,
            sessions._session,
        )
        first_homes, lost, events, stored = (
            sessions._first_home,
            sessions._lost,
            sessions._events,
            sessions._shared,
        )
        thinks, sent_at, reached, last_send = (
            sessions._think_next,
            sessions._arrival,
            sessions._reached,
            sessions.duration,
        )
    end_of_trips = round_trips_end if plans else None
    if servers:  # the columns and the window of the world's servers
        first = servers[0]
        demand, start, tries, inflight = first._demand, first._start, first._tries, first._inflight
        lo, hi = first._lo, first._hi
    if plans:  # columns every balancer shares
        shared = hot.plans[0].balancer
        sent, backends, status, ends = shared._sent, shared._server, shared._status, shared._end
    bound: tuple[Any, ...] | None = None  # the plan in the locals below
    push, pop, end_of_service, normal, bits, mask = (
        heappush,
        heappop,
        service_end,
        NORMAL,
        ATTEMPT_BITS,
        ATTEMPT_MASK,
    )
    push(queue, (until, URGENT - 1, -1, _stop, None))
    while True:
        entry = queue[0]
        now = entry[0]
        if now > at or (now == at and (normal, eid) < (entry[1], entry[2])):  # an arrival
            env._now = now = at
            fed = True
            request = cursor if firsts is None else firsts[cursor]
            slot = -1
        else:  # ------------------------------------------------- an event
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
                target = (only or plans[route[answered]]) if done is routed else None
                if target is not bound and target is not None:
                    bound = target
                    (balancer, sends, answers, pick, view, on_send, on_complete, load, try_expiries,
                     listeners, finished, persist, table) = target  # fmt: skip
                if target is None or not answers:
                    done(job, server.index, OK)
                    continue
                attempt = tries[answered]  # Balancer.complete of an answer, inlined
                if (job & mask) != attempt or not inflight[answered]:
                    balancer.recorder.abandoned += 1  # an abandoned attempt: the work was wasted
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
                        if finished is session_end:  # SessionDriver._finished, inlined
                            key = session_keys[answered]
                            home = homes[key]
                            if home != backend:  # a first home, or state lost (not in a store)
                                if home < 0:
                                    session = session_of[answered]
                                    if first_homes[session] < 0:
                                        first_homes[session] = backend
                                elif not stored:
                                    lost[session_of[answered]] = True
                                homes[key] = backend
                            elif (
                                not stored
                                and (wiped or (events and len(events) != driver._seen))
                                and wiped_since(home, key)  # its home lost its memory since
                            ):
                                lost[session_of[answered]] = True
                            since[key] = now
                            due = now + thinks[answered]  # NaN after a session's last request
                            if due < last_send:
                                sent_at[answered + 1] = due
                                if reached is not None:
                                    reached[answered + 1] = due
                                push(queue, (due, normal, next(eids), think, answered + 1))
                            hook = then
                        else:
                            hook = finished
                        if hook is None:
                            pass
                        elif hook is release:  # ConnectionTable.release, inlined
                            if riding[answered]:
                                riding[answered] = 0
                                c = of[answered]
                                active[c] = busy = active[c] - 1
                                if not busy:
                                    state = states[c]
                                    if state == CLOSING:
                                        close(c)
                                    elif state == OPEN:
                                        idle_since[c] = now
                                        if idle is not None and not armed[c]:  # a timer
                                            armed[c] = 1
                                            idle.add(c)
                        else:
                            hook(answered)
                continue
            fed = False
            if handler is think:
                request = entry[4]  # a session's next request (SessionDriver._next, inlined)
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
            elif handler is _stop:
                break
            else:
                handler(entry[4])
                continue
        # ------------------------------------------------ a request is sent
        assigned = False  # put on its connection c just now (by the front)
        if slot >= 0:
            target = plans[slot]
        elif lone is not None:  # Front.admit without CPU or TLS, inlined
            kind = classes[request] if classes is not None else 0
            cluster = clusters[kind]
            if cluster is None or not cluster.up:
                slot = lone.admit(request)  # a version to draw, a timeout to start, or down
                target = plans[slot] if slot >= 0 else None
            else:
                slot = cluster.slot
                target = plans[slot]
                slots[request] = slot
                if front_index:  # (0: the column's fill)
                    instances[request] = front_index
                # its route and version: written after the run (Front.record_routes)
                if pooled is not None:  # ConnectionTable.assign, inlined (the request's first)
                    c = -1
                    pool = pools.get(pool_keys[request])
                    if pool:  # ConnectionTable.reusable, inlined (the lone front owns them all)
                        for candidate in pool:
                            busy = active[candidate]
                            if busy < streams:
                                c = candidate
                                if not busy and idle_since[c] + idle_timeout < now:
                                    c = pooled.reusable(pool, front_index)  # idle too long: closed
                                break
                    if c < 0:
                        c = pooled._open(request, front_index, pooled._budget())
                    of[request] = c
                    riding[request] = 1
                    active[c] += 1
                    left[c] = remaining = left[c] - 1
                    if not remaining:
                        pooled._stop_assigning(c)
                    assigned = True
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
                (balancer, sends, answers, pick, view, on_send, on_complete, load, try_expiries,
                 listeners, finished, persist, table) = target  # fmt: skip
            if not sends or not balancer.up:
                balancer.dispatch(request)
            else:  # Balancer.dispatch of a first attempt, inlined
                if table is not None:  # ConnectedBalancer.dispatch: on its connection first
                    if not assigned:  # ConnectionTable.ride, inlined
                        c = table._of[request]
                        if c < 0 or table.state[c] == CLOSED:
                            c = table.assign(request, balancer.index)
                    if view is not None:  # (a request-blind pick does not read it)
                        view.connection_id = c
                if balancer._timeout is not None:
                    balancer._expiries.add(request)
                backend = None
                if persist is None:
                    pass
                elif persist is cookie:  # SessionDriver._persist, inlined
                    home = homes[session_keys[request]]
                    if home >= 0 and balancer.followable[home]:
                        backend = home
                else:
                    backend = persist(request)
                if backend is None:
                    if view is None:
                        backend = pick(FIRST_ATTEMPT)
                    else:
                        view.hash_key = view.client_address = balancer._keys[request]
                        view.client_id = balancer._client_ids[request]
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
                at = at + delay if delay > 0.0 else at + 0.0
                eid = next(eids)
            else:
                at = INFINITY
    arrivals.time, arrivals.eid = at, eid
    env._now = until
