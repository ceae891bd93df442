"""The world's run loop, with the two event kinds of every request inlined.

:func:`advance` takes every event from SimPy's queue and every arrival from
the sorted workload array in SimPy's order: the next arrival holds the
sequence number it would have had as a Timeout (drawn when the previous one
arrived) and is taken when its ``(time, NORMAL, eid)`` comes first, so event
order and every record are exactly those of one Timeout per arrival.

Most of a run is two kinds of event, and the loop handles them itself with
the hot state in locals, bound once per call:

* an arrival at a plain :class:`~lbsim.engine.balancer.Balancer` (the world's
  only one: :func:`hot_path`) that is up: its first attempt is balanced and
  sent (``Balancer.dispatch``) and taken by the server (``Server.accept``),
  which starts serving it (``Server._serve``) or queues it;
* a service end (:func:`~lbsim.engine.servers.service_end`): the server
  starts its next job (``Server._finish``) and, if the answer goes to that
  balancer, the balancer takes it (``Balancer.complete``).

Every feature off that path is a flag test that hands the event to the
method doing the general case (a balancer that is down, a server that is
down, hung or failing, a probe, a retried request, timeouts,
algorithm hooks, listeners), so the methods stay the one definition of
each rule, and this loop is their common case written out: a change to one
of those methods must be made here too (tests/engine/test_hotpath.py runs
scenarios with and without the inlined path and compares every record).
Any other event is a handler call.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush
from typing import Any, NamedTuple

from simpy.events import NORMAL

from lbsim.algorithms.base import FIRST_ATTEMPT
from lbsim.engine.balancer import NOTHING_TRIED, Balancer
from lbsim.engine.loop import Arrivals, Loop
from lbsim.engine.records import NO_BACKEND, OK, REJECTED
from lbsim.engine.servers import ATTEMPT_BITS, ATTEMPT_MASK, Done, Server, service_end
from lbsim.engine.state import Totals

INFINITY = float("inf")


class HotPath(NamedTuple):
    """What :func:`advance` inlines: arrivals at ``balancer`` (None: each
    arrival is ``arrive(request)``), answers to ``complete`` (the servers'
    ``done`` that is that balancer's :meth:`~Balancer.complete`)."""

    servers: Sequence[Server]
    totals: Totals
    balancer: Balancer | None = None
    complete: Done | None = None


def hot_path(
    servers: Sequence[Server],
    totals: Totals,
    balancer: Balancer | None,
    complete: Done | None,
) -> HotPath:
    """The inlined path for a world whose arrivals all go to ``balancer``
    (None: not one balancer) and whose servers answer ``complete``; a
    balancer that overrides what is inlined, or has a session hook, is not
    inlined (its events go to its methods)."""
    if balancer is None or type(balancer).dispatch is not Balancer.dispatch:
        return HotPath(servers, totals)
    if balancer.persist is not None:
        return HotPath(servers, totals)
    if type(balancer).complete is not Balancer.complete:
        complete = None
    return HotPath(servers, totals, balancer, complete)


def advance(env: Loop, until: float, arrivals: Arrivals, hot: HotPath) -> None:
    """Process every event (and arrival) before ``until``; now is ``until`` after."""
    queue: list[Any] = env._queue
    eids = env._eid
    times = arrivals.times
    arrive = arrivals.arrive
    count = len(times)
    request = arrivals.next
    at, eid = arrivals.time, arrivals.eid
    if request >= count:
        at = INFINITY
    totals = hot.totals
    servers = hot.servers
    if not servers:
        hot = HotPath(servers, totals)
    else:  # columns every server shares
        first = servers[0]
        demand, start, tries, inflight = first._demand, first._start, first._tries, first._inflight
        lo, hi = first._lo, first._hi  # the world gives every server the same window
    balancer = hot.balancer
    if balancer is not None:
        view = balancer._view
        blind = getattr(balancer.algorithm, "request_blind", False) is True
        keys, client_ids = balancer._keys, balancer._client_ids
        pick, on_send, on_complete = balancer._pick, balancer._on_send, balancer._on_complete
        load = balancer._load
        sent, backends, status, ends = (
            balancer._sent,
            balancer._server,
            balancer._status,
            balancer._end,
        )
        expiries = balancer._expiries if balancer._timeout is not None else None
        try_expiries = balancer._try_expiries if balancer._per_try is not None else None
        listeners = balancer.outcome_listeners
        finished = balancer.finished
        recorder = balancer.recorder
    complete = hot.complete
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
            env._now = at
            if balancer is None or not balancer.up:
                arrive(request)
            else:  # Balancer.dispatch of a first attempt, inlined
                if expiries is not None:
                    expiries.add(request)
                if blind:
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
                    sent[request] = at
                    inflight[request] = 1
                    job = request << bits
                    if try_expiries is not None:
                        try_expiries.add(job)
                    server = servers[backend]
                    if not server.dirty:  # Server.accept, inlined
                        server.dirty = True
                        server.changed.append(server)
                    if not server.up or server.hung or server.error_rate:
                        server.accept(job)
                    elif server.busy < server.workers:
                        server.busy += 1
                        totals.jobs += 1
                        # Server._serve, inlined: the attempt was just sent, so awaited
                        start[request] = at
                        end = at + demand[request] * server.slowdown / server.speed
                        server.serving[job] = end
                        if end > lo and at < hi:
                            server.busy_area += (end if end < hi else hi) - (at if at > lo else lo)
                        push(queue, (end, normal, next(eids), end_of_service, (server, job)))
                    elif len(server.queue) < server.queue_limit:
                        totals.jobs += 1
                        waiting = server.queue
                        waiting.append(job)
                        if lo <= at <= hi:
                            server.queue_area -= at
                            if len(waiting) > server.queue_peak:
                                server.queue_peak = len(waiting)
                        else:
                            server.queue_area -= lo if at < lo else hi
                    else:
                        server._fail(job, REJECTED)
            request += 1
            arrivals.next = request
            if request < count:
                delay = times[request] - at
                at = at + delay if delay > 0 else at + 0.0
                eid = next(eids)
            else:
                at = INFINITY
            continue
        if now >= until:  # ----------------------------------------- an event
            break
        pop(queue)
        env._now = now
        handler = entry[3]
        if handler is not end_of_service:
            handler(entry[4])
            continue
        server, job = entry[4]  # Server._finish, inlined
        serving = server.serving
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
                    server.busy_area += (end if end < hi else hi) - (now if now > lo else lo)
                push(queue, (end, normal, next(eids), end_of_service, (server, following)))
        else:
            server.busy -= 1
        if job < 0:
            server.probes.pop(job)[1](True)
            continue
        done = server.done
        if done is not complete:
            done(job, server.index, OK)
            continue
        answered = job >> bits  # Balancer.complete of an answer, inlined
        attempt = tries[answered]
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
    arrivals.time, arrivals.eid = at, eid
    env._now = until
