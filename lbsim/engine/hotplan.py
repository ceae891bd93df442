"""What the run loop (:mod:`lbsim.engine.hotpath`) inlines, found once per run.

A :class:`Plan` is one balancer's hot state, bound to the loop's locals
when the balancer changes; a :class:`HotPath` is the world's: its servers,
its plans, where arrivals go, and the session driver, front and connection
table whose common steps the loop writes out. Built by :func:`hot_path`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from lbsim.algorithms.base import RequestView
from lbsim.engine.balancer import Balancer
from lbsim.engine.connected import ConnectedBalancer
from lbsim.engine.connections import ConnectionTable
from lbsim.engine.front import Front
from lbsim.engine.loop import Timers
from lbsim.engine.records import Column
from lbsim.engine.servers import Done, Server
from lbsim.engine.state import Totals
from lbsim.engine.station import Station

if TYPE_CHECKING:
    from lbsim.engine.sessions import SessionDriver


class Plan(NamedTuple):
    """A balancer's hot state, as the loop binds it to locals."""

    balancer: Balancer
    sends: bool  # its dispatch is inlined
    answers: bool  # its complete is inlined
    pick: Callable[[Any], int | None]
    view: RequestView | None  # None: the algorithm is request-blind (FIRST_ATTEMPT)
    on_send: Callable[[int], None] | None
    on_complete: Callable[[int, float, int], None] | None
    load: list[int]
    try_expiries: Timers | None  # None: no per-try timeout
    listeners: list[Callable[[int, int], None]]
    finished: Callable[[int], None] | None  # (the table's release: HotPath.release itself)
    # session persistence (a cookie's host); the session driver's cookie is
    # HotPath.sessions.cookie itself, for this balancer
    persist: Callable[..., int | None] | None
    table: ConnectionTable | None  # the connections its requests ride


def plan(
    balancer: Balancer,
    release: Callable[[int], None] | None,
    cookie: Callable[[Balancer, int], int | None] | None,
) -> Plan:
    """``balancer``'s plan: a subclass of Balancer whose dispatch (or
    complete) is its own is not inlined there (its events go to its
    methods); a connected one's dispatch is put on its connection first. The
    shared view is for a request-blind algorithm's own pick only (not a
    wrapper of it). A ``finished`` hook that is the connection table's
    release is ``release`` itself, and a ``persist`` hook that is
    ``partial(cookie, balancer)`` is ``cookie``: objects the loop knows."""
    kind = type(balancer)
    persist: Callable[..., int | None] | None = balancer.persist
    if isinstance(persist, partial) and persist.func is cookie and persist.args == (balancer,):
        persist = cookie
    algorithm = balancer.algorithm
    blind = getattr(algorithm, "request_blind", False) is True and balancer._pick == algorithm.pick
    connected = isinstance(balancer, ConnectedBalancer)
    finished = balancer.finished
    return Plan(
        balancer,
        kind.dispatch is (ConnectedBalancer.dispatch if connected else Balancer.dispatch),
        kind.complete is Balancer.complete,
        balancer._pick,
        None if blind else balancer._view,
        balancer._on_send,
        balancer._on_complete,
        balancer._load,
        balancer._try_expiries if balancer._per_try is not None else None,
        balancer.outcome_listeners,
        release if finished is not None and finished == release else finished,
        persist,
        balancer.table if isinstance(balancer, ConnectedBalancer) else None,
    )


class HotPath(NamedTuple):
    """Where :func:`~lbsim.engine.hotpath.advance` sends what it inlines.

    Arrivals go to ``single`` (an index into ``plans``, one per balancer of
    the world), or to the balancer ``resolve(request)`` names (-1: none, it
    saw to the request itself), through ``front`` (the world's one front,
    when it has neither CPU nor TLS, whose ``admit`` is ``resolve``, and
    whose connections, if any, are ``table``, keep-alive ones); with
    none of them, each arrival is ``arrive(request)``. With ``firsts`` the
    arrivals are session starts, each sending request ``firsts[session]``,
    and an event whose handler is ``think`` sends its session's next
    request. With plans, a request through a front's TLS round trips, or its
    CPU (the front of each station in ``cpus``), goes on to its balancer
    (``Front._forward``, ``Front._ready``). A server's answer goes to the
    balancer ``route[request]`` if its ``done`` is ``routed``; any other
    ``done`` is called. A balancer's ``finished`` hook that is
    ``sessions.finish`` (then the table's release, if the driver's ``then``
    is ``release``) or ``release`` is inlined; ``table`` is the world's
    connections, if any.
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
    front: Front | None = None
    classes: list[int] | None = None  # the front's request classes, as a list (cheap to read)
    table: ConnectionTable | None = None
    release: Callable[[int], None] | None = None
    sessions: SessionDriver | None = None


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
    table: ConnectionTable | None = None,
    sessions: SessionDriver | None = None,
) -> HotPath:
    """The inlined path of a world. It rewrites ``server.done``: each server
    whose ``done`` is (equal to) ``routed`` is given that one object, which
    the loop knows by identity."""
    for server in servers:
        if server.done == routed:
            server.done = routed
    if think is None:  # not a world of sessions (or the loop does not send them)
        sessions = None
    if table is not None and table._channels is not None:
        table = None  # WebSockets: the methods
    release = table.release if table is not None else None
    cookie = sessions.cookie if sessions is not None else None
    plans = [plan(balancer, release, cookie) for balancer in balancers]
    cpus = {front.station: front for front in fronts if front.station is not None}
    front = fronts[0] if len(fronts) == 1 and resolve == fronts[0].admit else None
    if front is not None and (
        front.station is not None or front.tls is not None or front.connections is not table
    ):
        front = None
    kinds = front._classes if front is not None else None
    return HotPath(
        servers,
        totals,
        plans,
        route,
        routed,
        single,
        resolve,
        firsts,
        think,
        cpus,
        front,
        kinds.tolist() if kinds is not None else None,
        table,
        release,
        sessions,
    )
