"""The listener of a balancer instance: layer-7 routes, its CPU and TLS.

Used when a scenario has routes, a request mix, pools, a balancer CPU or
TLS (a flat scenario goes straight to its one balancer). For each arriving
request it finds the route of the request's class (first match wins,
precomputed per class), draws the version of a pool with versions, starts
the client's timeout (the class's own, from arrival: time queued at the
balancer counts), charges the balancer CPU and, for a new TLS connection,
the handshake and the client's extra round trips, then hands the request to
the balancer of that route and version, which balances, retries and times
out as in a flat scenario.

CPU per request (core-seconds): ``connection_cost`` if it opens a
connection, plus ``request_cost`` at layer 7, plus, for a new connection
through a terminating balancer, a full or (for the pre-drawn ``resumption``
share) resumed handshake; ``reencrypt`` adds a full handshake to the backend
on the balancer and on the server, ``passthrough`` puts the client's
handshake on the server instead.

Connections: without ``clients.connections`` every request opens its own
connection. With them (the world's
:class:`~lbsim.engine.connections.ConnectionTable`) a request is put on its
connection as it arrives (unless it rides an open one already);
a request that did not open its connection pays no connection cost, no
handshake and no extra round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappush
from typing import Any

import numpy as np
from simpy.events import NORMAL

from lbsim.engine.balancer import PENDING, Balancer
from lbsim.engine.canary import Splitter
from lbsim.engine.connections import ConnectionTable
from lbsim.engine.loop import Loop
from lbsim.engine.records import Column, Recorder, column
from lbsim.engine.state import RequestState, Totals
from lbsim.engine.station import Station
from lbsim.scenario.models.capacity import BalancerCpu, Tls

FULL, RESUMED = 1, 2  # the ``handshake`` column (0: none)


def round_trips_end(ending: tuple[Front, int]) -> None:
    """The handler of the end of a new TLS connection's extra round trips:
    ``(front, request)``. One handler for every front, so the run loop
    (:mod:`lbsim.engine.hotpath`) recognises it by identity and sends the
    request on itself."""
    front, request = ending
    front._forward(request)


class Front:
    """Balancer instance ``index``'s listener (see module docstring)."""

    def __init__(
        self,
        env: Loop,
        index: int,
        *,
        routes: Sequence[Sequence[Balancer]],
        splitters: Sequence[Splitter | None],
        class_route: Sequence[int],
        class_timeouts: Sequence[float | None],
        classes: Column | None,
        arrival: Column,
        slots: Column,
        cpu: BalancerCpu | None,
        layer: int,
        tls: Tls | None,
        resumed: Column | None,
        connections: ConnectionTable | None,
        demand: Column,
        recorder: Recorder,
        state: RequestState,
        totals: Totals,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.index = index
        self.routes = routes
        self.splitters = splitters
        self.class_route = class_route
        self.class_timeouts = class_timeouts
        self.balancers = {b.slot: b for route in routes for b in route}
        # per class: its route's cluster when the route's pool has one version
        # (None: drawn per request by the route's splitter)
        self._cluster_of = [routes[r][0] if splitters[r] is None else None for r in class_route]
        self._heap: list[Any] = env._queue  # the event heap and its sequence numbers
        self._eids = env._eid
        self.station = Station(env, cpu.workers, window, self._served, self._gone) if cpu else None
        self.connection_cost = cpu.connection_cost if cpu else 0.0
        # TLS passthrough: the balancer cannot read the request, it forwards bytes (layer 4)
        layer7 = cpu is not None and layer == 7 and (tls is None or tls.mode != "passthrough")
        self.request_cost = cpu.request_cost if cpu is not None and layer7 else 0.0
        self.tls = tls
        self.tls_delay = tls.rtt * tls.round_trips if tls else 0.0
        self._classes = classes
        self._arrival = arrival
        self._slots = slots
        self._resumed = resumed
        self.connections = connections
        self._demand = demand
        self._status = column(state.status)
        self._totals = totals
        columns = recorder.columns
        self._instance = column(columns["balancer"])
        self._route = column(columns["route"])
        self._version = column(columns["version"])
        self._cpu = column(columns["balancer_cpu"])
        self._handshake = column(columns["handshake"])
        self._latency_balancer = column(columns["latency_balancer"])
        self._latency_tls = column(columns["latency_tls"])

    def arrive(self, request: int) -> None:
        """A request reaches this instance."""
        slot = self.admit(request)
        if slot >= 0:
            self.balancers[slot].dispatch(request)

    def admit(self, request: int) -> int:
        """A request reaches this instance: route it and charge the CPU. The
        slot of the balancer to dispatch it to now, or -1 if this instance
        sees to it (queued on the CPU, on its TLS round trips, or failing at
        a balancer that is down). The run loop dispatches it itself, and
        writes out the common case of a lone front without CPU or TLS."""
        kind = self._classes[request] if self._classes is not None else 0
        route = self.class_route[kind]
        balancer = self._cluster_of[kind]
        if balancer is None:
            splitter = self.splitters[route]
            assert splitter is not None
            version = splitter.pick()
            balancer = self.routes[route][version]
        else:
            version = 0
        self._slots[request] = balancer.slot
        self._instance[request] = self.index
        self._route[request] = route
        self._version[request] = version
        timeout = self.class_timeouts[kind]
        if timeout is not None:
            balancer.watch(request, timeout)
        if not balancer.up:
            balancer.dispatch(request)  # fails after the connect timeout
            return -1
        cost = self.request_cost
        table = self.connections
        if table is not None:  # on its connection now, unless it rides an open one
            table.ride(request, self.index)
        if table is None or table.opened_by[request]:
            cost += self.connection_cost
            if self.tls is not None:
                cost += self._handshake_cost(request)
        self._cpu[request] = cost
        if self.station is not None:
            self._totals.jobs += 1
            self.station.accept(request, cost)
            return -1
        if self.tls_delay:
            return self._ready(request)
        return balancer.slot  # no CPU, no round trip: no time at the balancer (the fill, 0)

    def record_routes(self, sent: np.ndarray | None) -> None:
        """Write the route and version (0) of every request (``sent``: those
        sent) of a class whose route's pool has one version: the run loop's
        front (:mod:`lbsim.engine.hotpath`) leaves them to this pass after the
        run instead of two writes per request. :meth:`admit` writes the same."""
        routes, versions = np.asarray(self._route), np.asarray(self._version)
        n = len(routes)
        kinds = np.zeros(n, dtype=np.intp) if self._classes is None else np.asarray(self._classes)
        one_version = np.array([cluster is not None for cluster in self._cluster_of])[kinds]
        if sent is not None:
            one_version &= sent
        routes[one_version] = np.asarray(self.class_route)[kinds[one_version]]
        versions[one_version] = 0

    def _handshake_cost(self, request: int) -> float:
        """The balancer's handshake cost of a new connection (the server's goes
        into the request's demand)."""
        tls = self.tls
        assert tls is not None and self._resumed is not None
        resumed = bool(self._resumed[request])
        self._handshake[request] = RESUMED if resumed else FULL
        client = tls.resumed_handshake if resumed else tls.full_handshake
        if tls.mode == "passthrough":
            self._demand[request] += client
            return 0.0
        if tls.mode == "reencrypt":
            self._demand[request] += tls.full_handshake
            return client + tls.full_handshake
        return client

    def _gone(self, request: int) -> bool:
        """Whether the client gave up while ``request`` queued (no CPU spent on it)."""
        if self._status[request] == PENDING:
            return False
        self._cpu[request] = 0.0
        return True

    def _served(self, request: int) -> None:
        """The balancer CPU is done with ``request``."""
        self._totals.jobs -= 1
        slot = self._ready(request)
        if slot >= 0:
            self.balancers[slot].dispatch(request)

    def _ready(self, request: int) -> int:
        """``request`` is through the CPU: the slot of its balancer if it is
        to be dispatched now (-1: on the client's TLS round trips first, or
        timed out while queued)."""
        now = self.env._now
        self._latency_balancer[request] = now - self._arrival[request]
        delay = self.tls_delay
        if delay and self._handshake[request]:  # the client's extra round trips first
            self._latency_tls[request] = delay
            self._totals.jobs += 1
            heappush(
                self._heap,
                (now + delay, NORMAL, next(self._eids), round_trips_end, (self, request)),
            )
            return -1
        return self._slots[request] if self._status[request] == PENDING else -1

    def _forward(self, request: int) -> None:
        self._totals.jobs -= 1
        if self._status[request] == PENDING:  # not timed out while queued
            self.balancers[self._slots[request]].dispatch(request)
