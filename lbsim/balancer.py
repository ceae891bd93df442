"""The load balancer: picks a backend for each request and forwards it.

It knows only what a real balancer knows: its own outstanding requests per
backend, the latencies it observed, configured weights and which backends it
believes available (the :class:`~lbsim.algorithms.Backends` view it shares
with its algorithm). It never reads a server's queue.
"""

from __future__ import annotations

from simpy import Environment

from lbsim.algorithms import Algorithm, Backends
from lbsim.recorder import NO_BACKEND, Column
from lbsim.servers import Server


class Balancer:
    """One balancer instance in front of ``servers``."""

    __slots__ = (
        "_arrival",
        "_end",
        "_server",
        "_status",
        "algorithm",
        "backends",
        "env",
        "index",
        "servers",
    )

    def __init__(
        self,
        env: Environment,
        index: int,
        backends: Backends,
        algorithm: Algorithm,
        servers: list[Server],
        *,
        arrival: Column,
        columns: tuple[Column, Column, Column],
    ) -> None:
        self.env = env
        self.index = index
        self.backends = backends
        self.algorithm = algorithm
        self.servers = servers
        self._arrival = arrival
        self._server, self._end, self._status = columns

    def dispatch(self, request: int, key: int) -> None:
        """Route ``request`` from the client with IPv4 ``key`` to a backend."""
        backend = self.algorithm.pick(key)
        if backend is None:
            self._end[request] = self.env.now
            self._status[request] = NO_BACKEND
            return
        self.backends.outstanding[backend] += 1
        self.algorithm.on_send(backend)
        self._server[request] = backend
        self.servers[backend].accept(request)

    def complete(self, request: int, backend: int) -> None:
        """The response to ``request`` came back from ``backend``."""
        self.backends.outstanding[backend] -= 1
        self.algorithm.on_complete(backend, self.env.now - self._arrival[request])
