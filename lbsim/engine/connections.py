"""Client connections: which connection carries each request, and their lives.

With ``clients.connections`` every request rides a connection, kept in one
:class:`ConnectionTable` per world. A request's connection is chosen when it
arrives (:meth:`ConnectionTable.assign`):

* keep-alive (HTTP/1.1, ``streams: 1``): an open connection of the same
  client *to the same origin* (the ``host`` of the request's ``mix`` class: a
  browser keeps connections per origin, and at layer 4 the SNI of its
  handshake chose the route) with no request in flight, else a new one; with ``streams: N``
  (HTTP/2) one with fewer than N requests in flight. A new connection may
  carry ``keepalive.requests`` requests (drawn per connection, rounded up,
  from the ``keepalive-requests`` stream, in the order connections open); it
  is closed when its last one ends, or after ``idle_timeout`` with nothing in
  flight. A pinned connection has a timer for it (one pending per
  connection, re-armed to the end of its latest idle spell, so a busy
  connection does not cost an event per request), as its balancer hears it
  close; any other is closed when it is next looked at (a request looking
  for a connection, a balancer crash, its max lifetime, the end of the run),
  at the moment its idle timeout ended: the timer's close, without an event
  (see ``ConnectionTable._expired`` for a request at that very moment).
* WebSockets: the connection of the request's WebSocket (its upgrade opened
  it), until the WebSocket ends; a message whose connection the balancer
  closed opens a new one (the client reconnects when it next has a message).

The balancer (:class:`lbsim.engine.connected.PinnedBalancer`) binds a
connection to a host when it is *pinned* (layer 4, or a WebSocket, which
even a layer-7 proxy tunnels to the host its upgrade went to) and is told
when a bound connection closes (``on_close`` with the slot of the cluster
that bound it). Every request on a connection has its connection's route:
at layer 4 routes match the host only, the same for a whole origin, and a
WebSocket's messages have its upgrade's class. With ``balancer.connections``,
a connection is closed at ``max_lifetime`` (at once if idle, else when its
requests end) and a drained host's connections after ``drain_timeout``.

For TLS: a layer-7 front (:mod:`lbsim.engine.front`) puts a request on its
connection with :meth:`ConnectionTable.assign` as it reaches the listener, and
``opened_by[request]`` says whether it opened it, so a
handshake is charged once per connection.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from heapq import heappush
from typing import Any

import numpy as np
from simpy.events import NORMAL

from lbsim.engine.loop import Loop, Timers
from lbsim.engine.records import column
from lbsim.engine.workload import Workload
from lbsim.scenario.models import ConnectionLimits, Connections
from lbsim.scenario.models.mix import RequestClass

OPEN, CLOSING, CLOSED = 0, 1, 2
UNLIMITED = 1 << 62  # the request budget of a WebSocket
BLOCK = 4096

Closed = Callable[[int, int, float], None]  # (slot of the cluster that bound it, host, lifetime)


class ConnectionTable:
    """Every client connection of one run: per-connection lists, per-request columns."""

    def __init__(
        self,
        env: Loop,
        workload: Workload,
        model: Connections,
        limits: ConnectionLimits | None,
        n_servers: int,
        window: tuple[float, float],
        rng: np.random.Generator,
        *,
        pinned: bool,
        origin: np.ndarray | None = None,
    ) -> None:
        n = len(workload)
        self.pinned = pinned
        self.env = env
        self.streams = model.streams
        self.window = window
        self.of = np.full(n, -1, dtype=np.int32)  # the connection carrying each request
        self.opened_by = bytearray(n)  # 1: the request opened its connection
        self._of = column(self.of)
        self._riding = bytearray(n)  # 1 while the request counts on its connection
        self._clients = column(workload.client)
        # the key of a request's reusable connections: its client, and its origin if any
        self._keys = (
            self._clients
            if origin is None
            else column(workload.client.astype(np.int64) * (int(origin.max()) + 1) + origin)
        )
        self._channels = None if workload.channel is None else column(workload.channel)
        self._channel_end = workload.channel_end
        channels = 0 if workload.channel_end is None else len(workload.channel_end)
        self._current = [-1] * channels  # WebSocket -> its connection now
        self._ending = bytearray(channels)  # 1: its end is scheduled
        self._pools: dict[int, list[int]] = {}  # key -> its assignable connections
        self.on_close: Closed | None = None  # told when a bound connection closes
        # per connection
        self.host: list[int] = []  # -1 unless bound (pinned)
        self.slot: list[int] = []  # the cluster that bound it (-1: unbound)
        self.key: list[int] = []
        self.owner: list[int] = []  # the balancer instance it goes through
        self.client: list[int] = []
        self.opened: list[float] = []
        self.closed: list[float] = []
        self.budget: list[int] = []  # the requests it may carry
        self.active: list[int] = []
        self.left: list[int] = []  # of its budget (it has carried budget - left)
        self.state: list[int] = []
        self._idle_since: list[float] = []  # when it last had no request in flight
        self._armed = bytearray()  # 1: an idle timer of it is pending
        # per host: open bound connections, their integral over the window
        self.open_per_host = [0] * n_servers
        self.area = [0.0] * n_servers
        self._since = [0.0] * n_servers
        self._requests = model.keepalive.requests
        self._rng = rng
        self._budgets: list[int] = []
        # the idle timeout (module docstring): a timer if pinned, else lazy
        timeout = model.keepalive.idle_timeout if model.websocket is None else None
        self._idle = Timers(env, timeout, self._idle_expired) if timeout and pinned else None
        self.idle_timeout = timeout if not pinned else None  # closed when next looked at
        lifetime = limits.max_lifetime if limits is not None else None
        self._aging = Timers(env, lifetime, self._aged) if lifetime is not None else None

    def __len__(self) -> int:
        return len(self.state)

    # ------------------------------------------------------------ requests

    def ride(self, request: int, owner: int) -> int:
        """The connection ``request`` rides: the one it was put on, unless it
        has none or that one closed (then :meth:`assign`)."""
        c = self._of[request]
        return self.assign(request, owner) if c < 0 or self.state[c] == CLOSED else c

    def assign(self, request: int, owner: int) -> int:
        """The connection ``request`` rides through balancer ``owner`` (opened if needed)."""
        if self._riding[request]:  # its connection closed under it: leave it
            self._riding[request] = 0
            self.active[self._of[request]] -= 1
        channels = self._channels
        if channels is not None:
            channel = channels[request]
            c = self._current[channel]
            if c < 0 or self.state[c] != OPEN:
                c = self._open(request, owner, UNLIMITED)
                self._current[channel] = c
                if not self._ending[channel]:
                    self._ending[channel] = 1
                    assert self._channel_end is not None
                    end = float(self._channel_end[channel])
                    self.env.after(end - self.env._now, self._channel_over, channel)
        else:  # the first of the key's connections with a free stream
            pool = self._pools.get(self._keys[request])
            c = self.reusable(pool, owner) if pool else -1
            if c < 0:
                c = self._open(request, owner, self._budget())
        self._of[request] = c
        self._riding[request] = 1
        self.active[c] += 1
        left = self.left[c] - 1
        self.left[c] = left
        if not left:
            self._stop_assigning(c)
        return c

    def reusable(self, pool: list[int], owner: int) -> int:
        """The first connection of ``pool`` through balancer ``owner`` with a
        free stream (-1: none). An idle one past its idle timeout found on the
        way is closed, at the time the timeout ended. (Its common case, with
        :meth:`assign`, :meth:`ride` and :meth:`release`, is written out in
        :func:`lbsim.engine.hotpath.advance`: change both.)"""
        streams, active, owners = self.streams, self.active, self.owner
        while True:
            for candidate in pool:
                if active[candidate] < streams and owners[candidate] == owner:
                    if not self._expired(candidate):
                        return candidate
                    self._expire(candidate)  # (leaves the pool)
                    break
            else:
                return -1

    def _expired(self, c: int) -> bool:
        """Whether ``c`` is open, idle and past its idle timeout now (it ended
        before now). At the very moment it ends the connection is still
        open, as its timer (set at the answer that left it idle, or later)
        came after the events scheduled by then: a think time or an arrival
        scheduled before that answer (one scheduled later, at exactly that
        moment, would have found it closed: a tie only deterministic times
        make). (Written out in :func:`lbsim.engine.hotpath.advance`; for
        every connection at once at the end, :meth:`stats`.)"""
        timeout = self.idle_timeout
        if timeout is None or self.state[c] != OPEN or self.active[c]:
            return False
        return self._idle_since[c] + timeout < self.env._now

    def _expire(self, c: int) -> None:
        assert self.idle_timeout is not None
        self.close(c, self._idle_since[c] + self.idle_timeout)

    def _budget(self) -> int:
        if not self._budgets:
            draws = self._requests.sample(self._rng, BLOCK)
            self._budgets = [max(1, math.ceil(x)) for x in draws.tolist()]
            self._budgets.reverse()
        return self._budgets.pop()

    def _open(self, request: int, owner: int, budget: int) -> int:
        c = len(self.state)
        client = self._clients[request]
        key = self._keys[request]
        self.host.append(-1)
        self.slot.append(-1)
        self.key.append(key)
        self.owner.append(owner)
        self.client.append(client)
        self.opened.append(self.env._now)
        self.closed.append(math.nan)
        self.budget.append(budget)
        self.active.append(0)
        self.left.append(budget)
        self.state.append(OPEN)
        self._idle_since.append(math.nan)
        self._armed.append(0)
        self.opened_by[request] = 1
        if self._channels is None:
            self._pools.setdefault(key, []).append(c)
        if self._aging is not None:
            self._aging.add(c)
        return c

    def release(self, request: int) -> None:
        """``request`` ended: its connection has one request fewer in flight."""
        if not self._riding[request]:
            return
        self._riding[request] = 0
        c = self._of[request]
        active = self.active[c] - 1
        self.active[c] = active
        if active:
            return
        state = self.state[c]
        if state == CLOSING:
            self.close(c)
        elif state == OPEN:
            self._idle_since[c] = self.env._now
            if self._idle is not None and not self._armed[c]:  # one timer per connection
                self._armed[c] = 1
                self._idle.add(c)

    # ------------------------------------------------------------ lives

    def bind(self, c: int, host: int, slot: int) -> None:
        """Pin connection ``c`` to ``host`` (by the cluster in ``slot``)."""
        self.host[c] = host
        self.slot[c] = slot
        self._count(host, 1)

    def close(self, c: int, at: float | None = None) -> None:
        """Close ``c`` now (or at ``at``, earlier: an idle timeout found late)."""
        if self.state[c] == CLOSED:
            return
        self._stop_assigning(c)
        self.state[c] = CLOSED
        now = self.env._now if at is None else at
        self.closed[c] = now
        host = self.host[c]
        if host >= 0:
            self._count(host, -1)
            if self.on_close is not None:
                self.on_close(self.slot[c], host, now - self.opened[c])

    def _stop_assigning(self, c: int) -> None:
        if self.state[c] == OPEN:
            self.state[c] = CLOSING
            pool = self._pools.get(self.key[c])
            if pool is not None and c in pool:
                pool.remove(c)

    def _idle_expired(self, c: int) -> None:
        """An idle timer of ``c`` is due: close it if it has been idle for the
        whole ``idle_timeout`` since its last request ended; if it went idle
        again later, wait until that idle time is up (if it is busy, the end
        of its requests sets a timer)."""
        self._armed[c] = 0
        if self.state[c] != OPEN or self.active[c]:
            return
        assert self._idle is not None
        due = self._idle_since[c] + self._idle.delay  # the time its own timer would have
        if due <= self.env._now:
            self.close(c)
        else:
            self._armed[c] = 1
            queue: list[Any] = self.env._queue
            heappush(queue, (due, NORMAL, next(self.env._eid), self._idle_expired, c))

    def _aged(self, c: int) -> None:
        if self.state[c] == CLOSED:
            return
        if self.active[c]:
            self._stop_assigning(c)  # closes when its requests end
        else:
            self._close_now(c)

    def _close_now(self, c: int) -> None:
        """Close ``c`` now, or when its idle timeout ended if that was before now."""
        if self._expired(c):
            self._expire(c)
        else:
            self.close(c)

    def _channel_over(self, channel: int) -> None:
        c = self._current[channel]
        if c >= 0:
            self.close(c)
        self._current[channel] = -1

    def close_where(self, owner: int, host: int | None = None, slot: int | None = None) -> None:
        """Close every connection through balancer instance ``owner`` (bound
        to ``host`` by the cluster in ``slot``, if given)."""
        for c, state in enumerate(self.state):
            if (
                state != CLOSED
                and self.owner[c] == owner
                and host in (None, self.host[c])
                and slot in (None, self.slot[c])
            ):
                self._close_now(c)

    # ------------------------------------------------------------ accounting

    def _count(self, host: int, delta: int) -> None:
        self._integrate(host, self.env._now)
        self.open_per_host[host] += delta

    def _integrate(self, host: int, now: float) -> None:
        lo, hi = self.window
        start, end = max(self._since[host], lo), min(now, hi)
        if end > start:
            self.area[host] += self.open_per_host[host] * (end - start)
        self._since[host] = now

    def stats(self, horizon: float) -> dict[str, np.ndarray]:
        """The recorded facts: per connection, per request, per host, once the
        run (whose last moment was ``horizon``) is over. A connection whose idle
        timeout ended before then (:meth:`_expired`, for all at once) closed
        when it ended; no other fact changes, so its entry in the lists stays
        as it is (the run is over)."""
        closed = np.array(self.closed, dtype=np.float64)
        if self.idle_timeout is not None:
            due = np.array(self._idle_since) + self.idle_timeout
            idle = (np.array(self.state) == OPEN) & (np.array(self.active) == 0)
            lapsed = idle & (due < horizon)
            closed[lapsed] = due[lapsed]
        for host in range(len(self.area)):
            self._integrate(host, self.env._now)
        return {
            "request_connection": self.of,
            "request_opened": np.frombuffer(bytes(self.opened_by), dtype=np.uint8).astype(bool),
            "host": np.array(self.host, dtype=np.int32),
            "opened": np.array(self.opened, dtype=np.float64),
            "closed": closed,
            "requests": np.array(self.budget, dtype=np.int64) - np.array(self.left),
            "server_connection_seconds": np.array(self.area),
            "pinned": np.array([self.pinned]),
        }


def origins(mix: Sequence[RequestClass] | None, classes: np.ndarray | None) -> np.ndarray | None:
    """The origin of each request: the index of its class's ``host`` among the
    mix's distinct hosts (None when the mix names no host: one origin)."""
    if mix is None or classes is None or all(kind.host is None for kind in mix):
        return None
    hosts = list(dict.fromkeys(kind.host for kind in mix))
    return np.array([hosts.index(kind.host) for kind in mix], dtype=np.int64)[classes]
