"""Servers: a FCFS queue in front of ``workers`` identical service slots.

A request that finds a free slot is served at once for
``demand / (speed / slowdown)`` seconds; otherwise it waits in a
first-come-first-served queue, or is rejected (503) when ``queue_limit``
requests already wait. Service is a single SimPy timeout whose callback
starts the next waiting request, so a server costs one event per request and
no generator process.

A server can fail (driven by :mod:`lbsim.faults`): a crash fails what it
holds with ``conn_error`` and refuses new connections until it recovers
(a sender learns only after its connect timeout); a hung server accepts and
never answers; a slow one serves ``slowdown`` times slower; a flaky one
answers a fraction of requests at once with a 5xx (``server_error``).
Health probes that go through the queue are jobs with negative ids.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from simpy import Environment
from simpy.events import Timeout

from lbsim.algorithms.base import Uniforms
from lbsim.recorder import CONN_ERROR, OK, REJECTED, SERVER_ERROR, Column

Done = Callable[[int, int, int], None]  # (job, server index, status) -> None
ERROR_RESPONSE_TIME = 0.001  # a failing server's quick 5xx, in seconds
ATTEMPT_BITS = 4  # a job is ``request << ATTEMPT_BITS | attempt``; probes are negative
ATTEMPT_MASK = (1 << ATTEMPT_BITS) - 1


class Server:
    """One backend server (see module docstring)."""

    __slots__ = (
        "_connect_timeout",
        "_demand",
        "_done",
        "_errors",
        "_start",
        "busy",
        "env",
        "error_rate",
        "held",
        "hung",
        "index",
        "name",
        "probes",
        "queue",
        "queue_limit",
        "serving",
        "slowdown",
        "speed",
        "up",
        "workers",
    )

    def __init__(
        self,
        env: Environment,
        index: int,
        name: str,
        *,
        workers: int,
        speed: float,
        queue_limit: int | None,
        demand: Column,
        start: Column,
        done: Done,
        connect_timeout: float,
        errors: Uniforms,
    ) -> None:
        self.env = env
        self.index = index
        self.name = name
        self.workers = workers
        self.speed = speed
        self.queue_limit: float = queue_limit if queue_limit is not None else float("inf")
        self.busy = 0
        self.up = True
        self.hung = False
        self.slowdown = 1.0
        self.error_rate = 0.0
        self.queue: deque[int] = deque()
        self.serving: set[int] = set()
        self.held: list[int] = []  # accepted by a hung server
        self.probes: dict[int, tuple[float, Callable[[bool], None]]] = {}
        self._demand = demand
        self._start = start
        self._done = done
        self._connect_timeout = connect_timeout
        self._errors = errors

    @property
    def in_system(self) -> int:
        """Jobs here in truth: waiting plus in service."""
        return len(self.queue) + self.busy

    def accept(self, job: int) -> None:
        """An attempt (or a probe, with a negative id) arrives from a balancer."""
        if not self.up:
            Timeout(self.env, self._connect_timeout, job).callbacks.append(self._refused)
        elif self.hung:
            self.held.append(job)
        elif self.error_rate and self._errors.next() < self.error_rate:
            Timeout(self.env, ERROR_RESPONSE_TIME, job).callbacks.append(self._error)
        elif self.busy < self.workers:
            self.busy += 1
            self._serve(job)
        elif len(self.queue) < self.queue_limit:
            self.queue.append(job)
        else:
            self._fail(job, REJECTED)

    def _serve(self, job: int) -> None:
        self.serving.add(job)
        if job < 0:
            work = self.probes[job][0]
        else:
            request = job >> ATTEMPT_BITS
            self._start[request] = self.env.now
            work = self._demand[request]
        Timeout(self.env, work * self.slowdown / self.speed, job).callbacks.append(self._finish)

    def _finish(self, event: Timeout) -> None:
        job: int = event._value
        if job not in self.serving:
            return  # lost in a crash
        self.serving.discard(job)
        if self.queue:
            self._serve(self.queue.popleft())
        else:
            self.busy -= 1
        if job < 0:
            self.probes.pop(job)[1](True)
        else:
            self._done(job, self.index, OK)

    def _fail(self, job: int, status: int) -> None:
        if job < 0:
            self.probes.pop(job)[1](False)
        else:
            self._done(job, self.index, status)

    def _refused(self, event: Timeout) -> None:
        self._fail(event._value, CONN_ERROR)

    def _error(self, event: Timeout) -> None:
        self._fail(event._value, SERVER_ERROR)

    def crash(self) -> None:
        """Go down: everything held fails with a connection error."""
        lost = [*self.serving, *self.queue, *self.held]
        self.up = False
        self.hung = False
        self.serving.clear()
        self.queue.clear()
        self.held.clear()
        self.busy = 0
        for job in sorted(lost):
            self._fail(job, CONN_ERROR)

    def recover(self) -> None:
        """Back up (a hung process is restarted: what it held fails)."""
        if self.hung:
            self.crash()
        self.up = True
        self.hung = False
