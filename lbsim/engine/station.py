"""A balancer's CPU: a FCFS station of ``workers`` cores, jobs with their own cost.

A job that finds a free core is served at once for its ``cost`` (core
seconds); otherwise it waits first-come first-served; a waiting job that is
``gone`` by its turn (its client timed out and closed the connection) is
dropped without using the core. The station integrates
core-seconds busy and job-seconds waiting over the measurement window
exactly (the clipping of :mod:`lbsim.engine.servers`) and keeps the longest
queue, so utilisation and mean queue are time-weighted, not sampled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import Any

from simpy.events import NORMAL

from lbsim.engine.loop import Loop


def cpu_end(ending: tuple[Station, int]) -> None:
    """The handler of the end of a job's cost: ``(station, job)``. One handler
    for every station, so the run loop (:mod:`lbsim.engine.hotpath`)
    recognises the event kind by identity and sends the job on itself."""
    station, job = ending
    station.free()
    station.done(job)


class Station:
    """FCFS cores; ``done(job)`` when a job's cost has been served."""

    __slots__ = (
        "_eids",
        "_heap",
        "_hi",
        "_lo",
        "busy",
        "busy_area",
        "done",
        "env",
        "gone",
        "queue",
        "queue_area",
        "queue_peak",
        "workers",
    )

    def __init__(
        self,
        env: Loop,
        workers: int,
        window: tuple[float, float],
        done: Callable[[int], None],
        gone: Callable[[int], bool] | None = None,
    ) -> None:
        self.env = env
        self._heap: list[Any] = env._queue  # the event heap and its sequence numbers
        self._eids = env._eid
        self.gone = gone  # a queued job whose client left is dropped unserved
        self.workers = workers
        self.done = done
        self.busy = 0
        self.queue: deque[tuple[int, float]] = deque()
        self._lo, self._hi = window
        self.busy_area = 0.0
        self.queue_area = 0.0
        self.queue_peak = 0

    def _clip(self, time: float) -> float:
        return self._lo if time < self._lo else (self._hi if time > self._hi else time)

    def accept(self, job: int, cost: float) -> None:
        """A job needing ``cost`` core-seconds arrives."""
        now = self.env._now
        if self.busy < self.workers:  # _serve, inlined: once per request
            self.busy += 1
            end = now + cost
            lo, hi = self._lo, self._hi
            if end > lo and now < hi:
                self.busy_area += (end if end < hi else hi) - (now if now > lo else lo)
            heappush(self._heap, (end, NORMAL, next(self._eids), cpu_end, (self, job)))
            return
        self.queue.append((job, cost))
        self.queue_area -= self._clip(now)
        if self._lo <= now <= self._hi and len(self.queue) > self.queue_peak:
            self.queue_peak = len(self.queue)

    def _serve(self, job: int, cost: float) -> None:
        now = self.env._now
        end = now + cost
        lo, hi = self._lo, self._hi
        if end > lo and now < hi:  # clip(end) - clip(now)
            self.busy_area += (end if end < hi else hi) - (now if now > lo else lo)
        heappush(self._heap, (end, NORMAL, next(self._eids), cpu_end, (self, job)))

    def free(self) -> None:
        """A job's cost is served: its core takes the next waiting job, or idles."""
        if self.queue:
            self._next()
        else:
            self.busy -= 1

    def _next(self) -> None:
        """A core is free: serve the first waiting job whose client is still there."""
        queue, gone = self.queue, self.gone
        while queue:
            self.queue_area += self._clip(self.env._now)
            waiting, cost = queue.popleft()
            if gone is not None and gone(waiting):
                self.done(waiting)  # nothing served: the caller sees it is gone
                continue
            self._serve(waiting, cost)
            return
        self.busy -= 1

    def finish_accounting(self) -> None:
        """Close the queue integral at the end of the run."""
        self.queue_area += len(self.queue) * self._clip(self.env._now)
