"""Balancers whose requests ride client connections.

Layer 7 (keep-alive, HTTP/2; :class:`ConnectedBalancer`): every request is
balanced on its own, and the load an algorithm sees is requests in flight,
as in HAProxy ``mode http`` (streams), Envoy (``rq_active``) and NGINX
http; the connections are only the clients' (counted, and for TLS).
*Pinned* (:class:`PinnedBalancer`; ``layer: 4``, and WebSockets at either
layer, since a proxy tunnels a WebSocket to the host its upgrade went to):
the algorithm picks a host when a connection opens and every request on it
follows; the load it sees (the host set's ``outstanding``) is open
connections, as in HAProxy ``mode tcp`` and NGINX ``stream``, and its
``on_send`` / ``on_complete`` hear a connection open and close (with the
connection's lifetime as latency), never a request. A request on a pinned
connection that meets a dead server (``conn_error``) closes the connection,
so its retry and the next request reconnect.
"""

from __future__ import annotations

from typing import Any

from lbsim.algorithms import Algorithm, Request
from lbsim.engine.balancer import PENDING, Balancer
from lbsim.engine.connections import ConnectionTable
from lbsim.engine.records import CONN_ERROR, OK
from lbsim.engine.servers import ATTEMPT_BITS


class ConnectedBalancer(Balancer):
    """:class:`~lbsim.engine.balancer.Balancer` whose requests ride connections,
    balanced one by one (layer 7; see module docstring). A request's
    connection has one request fewer in flight once the request ends: the
    table's ``release`` is the balancer's ``finished`` hook (a session driver
    that takes the hook over calls it after its own)."""

    def __init__(
        self,
        *args: Any,
        table: ConnectionTable,
        **kwargs: Any,
    ) -> None:
        self.table = table
        super().__init__(*args, **kwargs)
        self.finished = table.release

    def dispatch(self, request: int) -> None:
        self._view.connection_id = self.table.ride(request, self.index)
        Balancer.dispatch(self, request)

    def crash(self, requests: Any) -> None:
        self.table.close_where(self.index)
        super().crash(requests)


class PinnedBalancer(ConnectedBalancer):
    """A :class:`ConnectedBalancer` that picks a host per connection (layer 4,
    WebSockets; see module docstring)."""

    def __init__(self, *args: Any, drain_timeout: float | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drain_timeout = drain_timeout
        self.finished = None  # released in complete and _finish, after a conn_error's close
        self._load = [0] * len(self.servers)  # requests in flight, apart from connections

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @algorithm.setter
    def algorithm(self, algorithm: Algorithm) -> None:
        Balancer.algorithm.fset(self, algorithm)  # type: ignore[attr-defined]
        # the algorithm hears connections, not requests
        self._opened, self._closed = self._on_send, self._on_complete
        self._on_send = self._on_complete = None
        self._inner_pick, self._pick = self._pick, self._pinned_pick

    def _pinned_pick(self, request: Request) -> int | None:
        c = request.connection_id
        bound = self.table.host[c]
        if bound >= 0:
            return bound
        host = self._inner_pick(request)
        if host is not None:
            self.table.bind(c, host, self.slot)
            self.backends.outstanding[host] += 1
            self.servers[host].touch()
            if self._opened is not None:
                self._opened(host)
        return host

    def connection_closed(self, host: int, lifetime: float) -> None:
        """A connection pinned to ``host`` closed after ``lifetime`` seconds."""
        self.backends.outstanding[host] -= 1
        self.servers[host].touch()
        if self._closed is not None:
            self._closed(host, lifetime, OK)

    def complete(self, job: int, backend: int, status: int) -> None:
        super().complete(job, backend, status)
        request = job >> ATTEMPT_BITS
        if status == CONN_ERROR:
            self.table.close(self.table._of[request])
        if self._status[request] != PENDING:
            self.table.release(request)

    def _finish(self, request: int, status: int) -> None:
        super()._finish(request, status)
        self.table.release(request)

    def set_draining(self, backend: int, draining: bool) -> None:
        super().set_draining(backend, draining)
        if draining and self.drain_timeout is not None:
            self.env.after(self.drain_timeout, self._drained, backend)

    def _drained(self, backend: int) -> None:
        if self.draining[backend]:
            self.table.close_where(self.index, backend, self.slot)
