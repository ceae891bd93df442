"""Servers: a FCFS queue in front of ``workers`` identical service slots.

A request that finds a free slot is served at once for
``demand / (speed / slowdown)`` seconds; otherwise it waits in a
first-come-first-served queue, or is rejected (503) when ``queue_limit``
requests already wait. Service is a single heap entry whose handler
(:func:`service_end`) starts the next waiting request, so a server costs one
event per request and no generator process. The run loop
(:mod:`lbsim.engine.hotpath`) writes out the common case of :meth:`Server.accept`,
``_serve`` and ``_finish``: a change to their rules must be made there too.

A server can fail (driven by :mod:`lbsim.engine.faults`): a crash fails what it
holds with ``conn_error`` and refuses new connections until it recovers
(a sender learns only after its connect timeout); a hung server freezes what
it holds and what it accepts, answering nothing; a slow one serves
``slowdown`` times slower; a flaky one answers a fraction of requests at
once with a 5xx (``server_error``). Health probes that go through the queue
are jobs with negative ids.

Each server integrates its own levels over the measurement window exactly:
worker-seconds busy (``busy_area``, abandoned work and probes included: they
occupy a worker too), job-seconds waiting (``queue_area``) and the longest
queue (``queue_peak``). The overlap of an interval [a, b] with the window
[lo, hi] is clip(b) − clip(a) with clip(t) = min(max(t, lo), hi), so each
job adds clip(now) when it leaves the queue and subtracts it when it joins:
no per-job bookkeeping on the hot path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import Any

import numpy as np
from simpy.events import NORMAL

from lbsim.algorithms.draws import Uniforms
from lbsim.engine.loop import Loop
from lbsim.engine.records import CONN_ERROR, OK, REJECTED, SERVER_ERROR, Column
from lbsim.engine.state import Totals

Done = Callable[[int, int, int], None]  # (job, server index, status) -> None
ERROR_RESPONSE_TIME = 0.001  # a failing server's quick 5xx, in seconds
ATTEMPT_BITS = 6  # a job is ``request << ATTEMPT_BITS | attempt``; probes are negative
ATTEMPT_MASK = (1 << ATTEMPT_BITS) - 1


def service_end(ending: tuple[Server, int]) -> None:
    """The handler of a service end: ``(server, job)``. One handler for every
    server, so the run loop (:mod:`lbsim.engine.hotpath`) recognises the
    event kind by identity and runs :meth:`Server._finish` inlined."""
    server, job = ending
    server._finish(job)


class LazyUniforms(Uniforms):
    """:class:`Uniforms` whose generator is made at the first draw: a
    server's error stream is drawn from only once a fault makes it flaky, and
    making a generator costs more than building the rest of the server."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], np.random.Generator]) -> None:
        self._make: Callable[[], np.random.Generator] | None = make
        self._size = 4096
        self.block: list[float] = []

    def next(self) -> float:
        if self._make is not None:
            self._rng, self._make = self._make(), None
        return super().next()


class Server:
    """One backend server (see module docstring)."""

    __slots__ = (
        "_connect_timeout",
        "_demand",
        "_eids",
        "_errors",
        "_hi",
        "_inflight",
        "_lo",
        "_probe_ids",
        "_queue",
        "_start",
        "_totals",
        "_tries",
        "busy",
        "busy_area",
        "changed",
        "dirty",
        "done",
        "env",
        "error_rate",
        "held",
        "hung",
        "index",
        "name",
        "probes",
        "queue",
        "queue_area",
        "queue_limit",
        "queue_peak",
        "serving",
        "slowdown",
        "speed",
        "up",
        "workers",
    )

    def __init__(
        self,
        env: Loop,
        index: int,
        name: str,
        *,
        workers: int,
        speed: float,
        queue_limit: int | None,
        demand: Column,
        start: Column,
        tries: Column,
        inflight: bytearray | memoryview,
        done: Done,
        connect_timeout: float,
        errors: Uniforms,
        window: tuple[float, float],
        totals: Totals | None = None,
    ) -> None:
        self.env = env
        self._queue: list[Any] = env._queue  # the event heap and its sequence numbers
        self._eids = env._eid
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
        self.serving: dict[int, float] = {}  # job -> when its service ends
        self.held: list[int] = []  # frozen by a hang
        self.probes: dict[int, tuple[float, Callable[[bool], None]]] = {}
        self._probe_ids = -1
        self._demand = demand
        self._start = start
        self._tries = tries
        self._inflight = inflight
        self._lo, self._hi = window
        self.busy_area = 0.0
        self.queue_area = 0.0
        self.queue_peak = 0
        self.done = done
        self._connect_timeout = connect_timeout
        self._errors = errors
        self._totals = (
            totals if totals is not None else Totals()
        )  # ``jobs`` counts what is held here
        # level sampling (lbsim.engine.sampler): a server whose levels may have
        # changed since the last sample is ``dirty`` and listed once in ``changed``
        self.dirty = True
        self.changed: list[Server] = [self]

    def touch(self) -> None:
        """Note that this server's levels (or a balancer's count of it) changed."""
        if not self.dirty:
            self.dirty = True
            self.changed.append(self)

    @property
    def in_system(self) -> int:
        """Jobs here in truth: waiting plus in service."""
        return len(self.queue) + self.busy

    def probe(self, work: float, result: Callable[[bool], None]) -> None:
        """Take a health probe of ``work`` seconds through the queue."""
        job = self._probe_ids
        self._probe_ids -= 1
        self.probes[job] = (work, result)
        self.accept(job)

    def _clip(self, time: float) -> float:
        return self._lo if time < self._lo else (self._hi if time > self._hi else time)

    def window_opens(self) -> None:
        """At the start of the window: the queue carried into it counts for the peak."""
        self.queue_peak = max(self.queue_peak, len(self.queue))

    def accept(self, job: int) -> None:
        """An attempt (or a probe, with a negative id) arrives from a balancer."""
        if not self.dirty:  # touch(), inlined: hot path
            self.dirty = True
            self.changed.append(self)
        if not self.up:
            self.env.after(self._connect_timeout, self._refused, job)
        elif self.hung:
            self.held.append(job)
            self._totals.jobs += 1
        elif self.error_rate and self._errors.next() < self.error_rate:
            self.env.after(ERROR_RESPONSE_TIME, self._error, job)
        elif self.busy < self.workers:
            self.busy += 1
            self._totals.jobs += 1
            self._serve(job)
        elif len(self.queue) < self.queue_limit:
            self._totals.jobs += 1
            now = self.env._now
            self.queue.append(job)
            if self._lo <= now <= self._hi:
                self.queue_area -= now
                if len(self.queue) > self.queue_peak:
                    self.queue_peak = len(self.queue)
            else:
                self.queue_area -= self._lo if now < self._lo else self._hi
        else:
            self._fail(job, REJECTED)

    def _serve(self, job: int) -> None:
        now = self.env._now
        if job < 0:
            work = self.probes[job][0]
        else:
            request = job >> ATTEMPT_BITS
            if (job & ATTEMPT_MASK) == self._tries[request] and self._inflight[request]:
                self._start[request] = now  # not for an attempt nobody waits for
            work = self._demand[request]
        duration = work * self.slowdown / self.speed
        end = now + duration
        self.serving[job] = end
        lo, hi = self._lo, self._hi
        if end > lo and now < hi:  # clip(end) - clip(now), inlined: hot path
            self.busy_area += (end if end < hi else hi) - (now if now > lo else lo)
        heappush(self._queue, (end, NORMAL, next(self._eids), service_end, (self, job)))

    def _finish(self, job: int) -> None:
        if self.serving.pop(job, None) is None:
            return  # lost in a crash or frozen by a hang
        if not self.dirty:  # touch(), inlined: hot path
            self.dirty = True
            self.changed.append(self)
        self._totals.jobs -= 1
        if self.queue:
            now = self.env._now
            self.queue_area += now if self._lo <= now <= self._hi else self._clip(now)
            self._serve(self.queue.popleft())
        else:
            self.busy -= 1
        if job < 0:
            self.probes.pop(job)[1](True)
        else:
            self.done(job, self.index, OK)

    def cancel(self, job: int) -> None:
        """Drop ``job`` (a hedged request's losing copy): out of the queue, or
        its service cut short and the worker given to the next in line."""
        self.touch()
        now = self.env._now
        end = self.serving.pop(job, None)
        if end is not None:
            self.busy_area -= self._clip(end) - self._clip(now)
            self._totals.jobs -= 1
            if self.queue:
                self.queue_area += self._clip(now)
                self._serve(self.queue.popleft())
            else:
                self.busy -= 1
        elif job in self.queue:
            self.queue.remove(job)
            self.queue_area += self._clip(now)
            self._totals.jobs -= 1
        elif job in self.held:
            self.held.remove(job)
            self._totals.jobs -= 1

    def _fail(self, job: int, status: int) -> None:
        self.touch()  # the balancer's count of it changes
        if job < 0:
            self.probes.pop(job)[1](False)
        else:
            self.done(job, self.index, status)

    def _refused(self, job: int) -> None:
        self._fail(job, CONN_ERROR)

    def _error(self, job: int) -> None:
        self._fail(job, SERVER_ERROR)

    def _drop_all(self) -> list[int]:
        """Empty the server (crash, hang): the jobs it held, oldest first."""
        self.touch()
        now = self._clip(self.env._now)
        for end in self.serving.values():  # take back the service that will not happen
            self.busy_area -= self._clip(end) - now
        self.queue_area += len(self.queue) * now
        jobs = [*self.serving, *self.queue]
        self.serving.clear()
        self.queue.clear()
        self.busy = 0
        return jobs

    def crash(self) -> None:
        """Go down: everything held fails with a connection error."""
        lost = [*self._drop_all(), *self.held]
        self._totals.jobs -= len(lost)
        self.up = False
        self.hung = False
        self.held.clear()
        for job in sorted(lost):
            self._fail(job, CONN_ERROR)

    def hang(self) -> None:
        """Freeze: what is in service or queued is never answered."""
        self.held.extend(self._drop_all())
        self.hung = True

    def finish_accounting(self) -> None:
        """Close the queue integral at the end of the run."""
        self.queue_area += len(self.queue) * self._clip(self.env._now)

    def recover(self) -> None:
        """Back up (a hung process is restarted: what it held fails)."""
        self.touch()
        if self.hung:
            self.crash()
        self.up = True
        self.hung = False
