"""The load balancer: picks a backend for each request and forwards it.

It knows only what a real balancer knows: its own outstanding requests per
backend, the latencies it observed, configured weights, what its health
checks told it, and which backends an operator drained (the
:class:`~lbsim.algorithms.Backends` view it shares with its algorithm). It
never reads a server's queue.

Which backends the algorithm may pick is decided here, once per change, in
this order: primaries believed healthy and not drained; if the healthy share
of primaries is below ``panic_threshold``, every primary not drained (Envoy's
panic routing); if no primary is left, the healthy ``backup`` servers
(HAProxy/NGINX backup); otherwise none, and requests fail with
``no_backend`` (503).
"""

from __future__ import annotations

from simpy import Environment

from lbsim.algorithms import Algorithm, Backends
from lbsim.recorder import NO_BACKEND, Column, Recorder
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
        "backup",
        "draining",
        "env",
        "healthy",
        "index",
        "panic",
        "panic_threshold",
        "recorder",
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
        backup: list[bool],
        panic_threshold: float,
        recorder: Recorder,
        arrival: Column,
        columns: tuple[Column, Column, Column],
    ) -> None:
        self.env = env
        self.index = index
        self.backends = backends
        self.algorithm = algorithm
        self.servers = servers
        self.backup = backup
        self.panic_threshold = panic_threshold
        self.healthy = [True] * len(servers)
        self.draining = [False] * len(servers)
        self.panic = False
        self.recorder = recorder
        self._arrival = arrival
        self._server, self._end, self._status = columns
        self.refresh()

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

    def refresh(self) -> None:
        """Recompute which backends may be picked (see module docstring)."""
        primaries = [i for i, b in enumerate(self.backup) if not b]
        usable = [i for i in primaries if self.healthy[i] and not self.draining[i]]
        healthy_share = sum(self.healthy[i] for i in primaries) / max(len(primaries), 1)
        panic = self.panic_threshold > 0 and healthy_share < self.panic_threshold
        if panic != self.panic:
            self.panic = panic
            self.recorder.log(self.env.now, "panic" if panic else "panic_over", "balancer")
        if panic:
            usable = [i for i in primaries if not self.draining[i]]
        if not usable:
            usable = [
                i
                for i, b in enumerate(self.backup)
                if b and self.healthy[i] and not self.draining[i]
            ]
        allowed = set(usable)
        self.backends.available[:] = [i in allowed for i in range(len(self.servers))]
        self.algorithm.on_change()

    def set_health(self, backend: int, healthy: bool) -> None:
        self.healthy[backend] = healthy
        self.refresh()

    def set_draining(self, backend: int, draining: bool) -> None:
        self.draining[backend] = draining
        self.refresh()

    def set_weight(self, backend: int, weight: int) -> None:
        self.backends.weights[backend] = weight
        self.refresh()
