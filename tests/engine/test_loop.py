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
