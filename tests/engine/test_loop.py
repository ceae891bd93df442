"""The run loop takes arrivals and events in SimPy's order, ties included."""

from __future__ import annotations

from typing import Any

from simpy.events import Timeout

from lbsim.engine.hotpath import advance
from lbsim.engine.hotplan import HotPath
from lbsim.engine.loop import Arrivals, Loop
from lbsim.engine.state import Totals

# arrivals at whole seconds, several at once; every arrival and every event
# schedules more events at the same moment and one second on, so arrivals
# and events tie on time and only their sequence numbers order them
TIMES = [1.0, 1.0, 2.0, 3.0, 3.0, 3.0, 4.0]


def _scenario(env: Loop, log: list[tuple[str, int, float]]) -> tuple[Any, Any]:
    def event(value: int) -> None:
        log.append(("event", value, env.now))
        if value < 40:
            env.after(0.0, event, value + 10)

    def arrive(request: int) -> None:
        log.append(("arrival", request, env.now))
        env.after(0.0, event, 100 + request)
        env.after(1.0, event, 200 + request)

    return event, arrive


def test_arrivals_and_events_in_simpys_order() -> None:
    env = Loop()
    log: list[tuple[str, int, float]] = []
    event, arrive = _scenario(env, log)
    arrivals = Arrivals(env, TIMES, arrive)
    for value in range(3):  # set before the run, after the first arrival's Timeout
        env.after(float(value + 1), event, value)
    advance(env, 10.0, arrivals, HotPath(servers=(), totals=Totals()))

    # the reference: each arrival a SimPy Timeout, made when the previous one arrived
    ref = Loop()
    expected: list[tuple[str, int, float]] = []
    ref_event, ref_arrive = _scenario(ref, expected)

    def arrived(timeout: Timeout) -> None:
        request = timeout.value
        ref_arrive(request)
        if request + 1 < len(TIMES):
            later = Timeout(ref, TIMES[request + 1] - TIMES[request], request + 1)
            later.callbacks.append(arrived)

    Timeout(ref, TIMES[0], 0).callbacks.append(arrived)
    for value in range(3):
        ref.after(float(value + 1), ref_event, value)
    ref.run()

    assert log == expected
    # ties happened: an arrival and an event at the same moment, each way round
    kinds_at = {(kind, time) for kind, _, time in log}
    assert {("arrival", 1.0), ("event", 1.0), ("arrival", 3.0), ("event", 3.0)} <= kinds_at
    assert len(log) > 3 * len(TIMES)


def test_a_slice_stops_before_the_events_and_arrivals_at_its_end() -> None:
    """``advance(until)`` takes what comes before ``until``; what falls at
    ``until`` itself (an event, an arrival) is the next slice's, in SimPy's
    order, and the heap holds only the run's own events after each slice."""
    env = Loop()
    log: list[tuple[str, int, float]] = []
    event, arrive = _scenario(env, log)
    arrivals = Arrivals(env, [2.0], arrive)
    env.after(1.0, event, 50)
    env.after(2.0, event, 60)
    hot = HotPath(servers=(), totals=Totals())

    advance(env, 2.0, arrivals, hot)
    assert log == [("event", 50, 1.0)]
    assert env.now == 2.0
    assert sorted(entry[0] for entry in env._queue) == [2.0]  # the event at 2 s, no stop entry

    advance(env, 2.5, arrivals, hot)
    assert [(kind, value) for kind, value, _ in log[1:]] == [
        ("arrival", 0),  # its Timeout was made first, so it comes first
        ("event", 60),
        ("event", 100),
    ]
    assert env.now == 2.5
