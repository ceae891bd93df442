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

from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

from simpy import Environment
from simpy.core import EmptySchedule
from simpy.events import NORMAL

Handler = Callable[[Any], None]
ROOM = 64  # deadlines a timer list has room for at first (it doubles when full)


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


Prune = Callable[[Any, int, int], int]  # (values, head, tail) -> head


class Timers:
    """Deadlines that share one delay, so they fall due in the order they were
    set: a FIFO with only its head on the heap (a timer list).

    Each deadline keeps the time and sequence number its own Timeout would
    have had, and the next one enters the heap only after its predecessor
    (whose key is smaller) fired, so events are taken in exactly SimPy's
    order while the heap holds one entry per list instead of one per request.
    Deadlines that no longer matter stay in the list; ``handler`` ignores
    them. A deadline's value is an int (a request, a job, a connection, a
    prober's number), and the list is three flat arrays (time, sequence
    number, value) used from ``_head`` to ``_tail``: a long delay at a high
    rate holds many deadlines, and a tuple and an int object per deadline
    would fill the cache the rest of the run works in.

    ``prune(values, head, tail)``, if given, returns the first of the
    deadlines ``head`` .. ``tail - 1`` that may still matter (at most the
    last), before the next one is put on the heap: those it skips must be
    deadlines that will never matter again, which would have fired doing
    nothing. Nothing else changes, as the others' keys stay what they were;
    and as the last deadline set is never skipped, the heap empties exactly
    when it would have without pruning (the run's end, read from an empty
    heap, stays the same).
    """

    __slots__ = (
        "_eids",
        "_head",
        "_heap",
        "_prune",
        "_room",
        "_sequence",
        "_tail",
        "_times",
        "_values",
        "delay",
        "env",
        "handler",
    )

    def __init__(
        self, env: Loop, delay: float, handler: Handler, prune: Prune | None = None
    ) -> None:
        self.env = env
        self.delay = delay
        self.handler = handler
        self._heap: list[Any] = env._queue
        self._eids = env._eid
        self._times = _flat("d", ROOM)
        self._sequence = _flat("q", ROOM)
        self._values = _flat("q", ROOM)
        self._room = ROOM
        self._head = self._tail = 0
        self._prune = prune

    def add(self, value: int) -> None:
        """Call ``handler(value)`` ``delay`` seconds from now."""
        tail = self._tail
        if tail == self._room:
            tail = self._make_room()
        time = self.env._now + self.delay
        eid = next(self._eids)
        self._times[tail] = time
        self._sequence[tail] = eid
        self._values[tail] = value
        self._tail = tail + 1
        if tail == self._head:  # the only one: it goes on the heap now
            heappush(self._heap, (time, NORMAL, eid, self._fire, value))

    def _make_room(self) -> int:
        """Move the pending deadlines to the front, into arrays twice as
        long unless at least half of them is fired deadlines; the new tail."""
        head, tail = self._head, self._tail
        if 2 * head < tail:
            self._room *= 2
        live = tail - head
        for name in ("_times", "_sequence", "_values"):
            old = getattr(self, name)
            new = _flat(old.format, self._room)
            new[:live] = old[head:tail]
            setattr(self, name, new)
        self._head, self._tail = 0, live
        return live

    def _fire(self, value: int) -> None:
        head = self._head + 1
        tail = self._tail
        if head < tail:
            if self._prune is not None and tail - head > 1:
                head = self._prune(self._values, head, tail)
            heappush(
                self._heap,
                (self._times[head], NORMAL, self._sequence[head], self._fire, self._values[head]),
            )
        else:  # none left
            head = self._tail = 0
        self._head = head
        self.handler(value)


def _flat(kind: str, size: int) -> Any:
    """``size`` zeros of ``kind`` ("d" or "q"): a memoryview (typed Any, as
    :data:`lbsim.engine.records.Column`) sets and gets them at a fraction of
    an ``array.array``'s cost per item."""
    return memoryview(bytearray(8 * size)).cast(kind)  # type: ignore[call-overload]
