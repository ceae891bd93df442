"""Servers: a FCFS queue in front of ``workers`` identical service slots.

A request that finds a free slot is served at once for ``demand / speed``
seconds; otherwise it waits in a first-come-first-served queue, or is
rejected (503) when ``queue_limit`` requests already wait. Service is a
single SimPy timeout whose callback starts the next waiting request, so a
server costs one event per request and no generator process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from simpy import Environment
from simpy.events import Timeout

from lbsim.recorder import OK, REJECTED, Column

Done = Callable[[int, int], None]  # (request, server index) -> None


class Server:
    """One backend server (see module docstring)."""

    __slots__ = (
        "_demand",
        "_done",
        "_end",
        "_start",
        "_status",
        "busy",
        "env",
        "index",
        "name",
        "queue",
        "queue_limit",
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
        columns: tuple[Column, Column, Column],
        done: Done,
    ) -> None:
        self.env = env
        self.index = index
        self.name = name
        self.workers = workers
        self.speed = speed
        self.queue_limit: float = queue_limit if queue_limit is not None else float("inf")
        self.busy = 0
        self.up = True
        self.queue: deque[int] = deque()
        self._demand = demand
        self._start, self._end, self._status = columns
        self._done = done

    @property
    def in_system(self) -> int:
        """Requests here in truth: waiting plus in service."""
        return len(self.queue) + self.busy

    def accept(self, request: int) -> None:
        """A request arrives from a balancer."""
        if self.busy < self.workers:
            self.busy += 1
            self._serve(request)
        elif len(self.queue) < self.queue_limit:
            self.queue.append(request)
        else:
            self._end[request] = self.env.now
            self._status[request] = REJECTED
            self._done(request, self.index)

    def _serve(self, request: int) -> None:
        self._start[request] = self.env.now
        Timeout(self.env, self._demand[request] / self.speed, request).callbacks.append(
            self._finish
        )

    def _finish(self, event: Timeout) -> None:
        request: int = event._value
        self._end[request] = self.env.now
        self._status[request] = OK
        if self.queue:
            self._serve(self.queue.popleft())
        else:
            self.busy -= 1
        self._done(request, self.index)
