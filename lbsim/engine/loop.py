"""SimPy's environment with light events, the pre-drawn arrivals, and timer lists.

A light event is a heap entry ``(time, NORMAL, eid, handler, value)`` on
SimPy's own queue; SimPy's own events are queued the same way, with a
handler that runs their callbacks. The same time arithmetic (``now +
delay``) and the same sequence numbers as a :class:`~simpy.events.Timeout`
with one callback, so the order of events is exactly SimPy's, without an
event object, a callback list or a property call per light event.
:meth:`Loop.step` runs them, so ``env.run()`` still works; the world's loop
is :func:`lbsim.engine.hotpath.advance`, which also merges the
:class:`Arrivals` from the sorted workload array: the next arrival holds the
sequence number it would have had as a Timeout (drawn when the previous one
arrived) and is taken when its ``(time, NORMAL, eid)`` comes first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

from simpy import Environment
from simpy.core import EmptySchedule
from simpy.events import NORMAL

Handler = Callable[[Any], None]


class Loop(Environment):
    """A SimPy environment that also runs light events (see module docstring)."""

    def after(self, delay: float, handler: Handler, value: Any = None) -> None:
        """Call ``handler(value)`` ``delay`` seconds from now."""
        queue: list[Any] = self._queue
        heappush(queue, (self._now + delay, NORMAL, next(self._eid), handler, value))

    def schedule(self, event: Any, priority: Any = NORMAL, delay: Any = 0) -> None:
        """Queue a SimPy event as a light one whose handler runs its callbacks."""
        queue: list[Any] = self._queue
        heappush(queue, (self._now + delay, priority, next(self._eid), _process, event))

    def step(self) -> None:
        try:
            self._now, _, _, handler, value = heappop(self._queue)  # type: ignore[misc]
        except IndexError:
            raise EmptySchedule from None
        handler(value)


def _process(event: Any) -> None:
    """Run a SimPy event's callbacks, as :meth:`simpy.Environment.step` does."""
    callbacks, event.callbacks = event.callbacks, None
    for callback in callbacks:
        callback(event)
    if not event._ok and not hasattr(event, "_defused"):
        exc = type(event._value)(*event._value.args)
        exc.__cause__ = event._value
        raise exc


class Arrivals:
    """The pre-drawn arrival times fed to ``arrive(request)`` in SimPy's order."""

    __slots__ = ("arrive", "eid", "next", "time", "times")

    def __init__(self, env: Loop, times: Sequence[float], arrive: Handler) -> None:
        self.times = times
        self.arrive = arrive
        self.next = 0
        # the first arrival is a Timeout scheduled at time 0 when the run starts
        self.time = times[0] if times else float("inf")
        self.eid = next(env._eid) if times else 0

    def pending(self) -> bool:
        return self.next < len(self.times)


Entry = tuple[float, int, int, Handler, Any]


class Timers:
    """Deadlines that share one delay, so they fall due in the order they were
    set: a FIFO with only its head on the heap (a timer list).

    Each deadline keeps the time and sequence number its own Timeout would
    have had, and the next one enters the heap only after its predecessor
    (whose key is smaller) fired, so events are taken in exactly SimPy's
    order while the heap holds one entry per list instead of one per request.
    Deadlines that no longer matter stay in the list; ``handler`` ignores them.

    ``prune(pending)``, if given, drops such deadlines from the front of the
    list (``pending[0]`` is the next entry, its value ``pending[0][4]``)
    before the next one is put on the heap, while more than one is left:
    it must drop only deadlines that will never matter again, which would
    have fired doing nothing. Nothing else changes, as the others' keys
    stay what they were; and as the last deadline set is never dropped, the
    heap empties exactly when it would have without pruning (the run's end,
    read from an empty heap, stays the same).
    """

    __slots__ = ("_eids", "_heap", "_pending", "_prune", "delay", "env", "handler")

    def __init__(
        self,
        env: Loop,
        delay: float,
        handler: Handler,
        prune: Callable[[deque[Entry]], None] | None = None,
    ) -> None:
        self.env = env
        self.delay = delay
        self.handler = handler
        self._heap: list[Any] = env._queue
        self._eids = env._eid
        self._pending: deque[Entry] = deque()
        self._prune = prune

    def add(self, value: Any) -> None:
        """Call ``handler(value)`` ``delay`` seconds from now."""
        entry = (self.env._now + self.delay, NORMAL, next(self._eids), self._fire, value)
        if not self._pending:
            heappush(self._heap, entry)
        self._pending.append(entry)

    def _fire(self, value: Any) -> None:
        pending = self._pending
        pending.popleft()
        if pending:
            if self._prune is not None and len(pending) > 1:
                self._prune(pending)
            heappush(self._heap, pending[0])
        self.handler(value)
