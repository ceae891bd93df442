"""Runs whose memory does not grow with their length (``records: none``).

An open-loop workload is drawn in windows of the run
(:class:`lbsim.engine.workload.Windows`). With ``records: none`` and more
than one window, a run keeps only the windows in flight: its per-request
columns live in an :class:`~lbsim.engine.arena.Arena` as long as the run
(its requests counted first, by drawing its arrivals once and dropping
them), each window is drawn when the run loop is about to reach it (the
loop stops at every window edge), and a window whose requests are all over
is handed to ``fold`` (which adds it to the summary's counts and
histograms) and its memory given back. The requests, every event, the
level samples and the summary are those of the same run held whole; only
the rows are gone (as ``records: none`` says).

A window is over when every one of its requests has its final status and no
server still holds an attempt of one of them in a queue or frozen by a hang
(an abandoned attempt is still served: its demand is read when it starts).
Attempts in service, timers and late answers of answered requests only
read their columns, which then say "answered, nothing in flight" as
before: a late answer is counted as abandoned (its balancer, read from the
column, may then be the first: one recorder counts them all).

Runs with per-request facts beyond the flat columns (closed-loop sessions,
connections, hedging and fan-out, layer 7, regions, client round trips, a
session store, contended rows, ``recovery``) or that read past requests'
columns during the run (autoscaling on ``requests_per_target``) are held
whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from lbsim.engine.arena import Arena
from lbsim.engine.layer7 import is_layer7
from lbsim.engine.records import INCOMPLETE, Recorder
from lbsim.engine.servers import ATTEMPT_BITS, Server
from lbsim.engine.workload import Windows, Workload
from lbsim.scenario import Scenario

Fold = Callable[[Workload, Recorder, int, int], None]  # requests [lo, hi) are over


def windowed(scenario: Scenario) -> bool:
    """Whether a run of ``scenario`` that keeps no rows runs window by window
    (module docstring)."""
    clients = scenario.clients
    held_whole = (
        clients.sessions is not None
        or clients.connections is not None
        or clients.hedge is not None
        or clients.fanout is not None
        or clients.rtt is not None
        or bool(scenario.regions)
        or scenario.session_store is not None
        or scenario.recovery is not None
        or is_layer7(scenario)
        or any(pool.contention != "none" for pool in scenario.servers)
        or any(
            pool.autoscale is not None and pool.autoscale.metric == "requests_per_target"
            for pool in scenario.servers
        )
    )
    return not held_whole and len(Windows(scenario)) > 1


class WindowedRun:
    """The workload of a windowed run, drawn and given back window by window."""

    def __init__(self, scenario: Scenario, fold: Fold) -> None:
        self.windows = Windows(scenario)
        self.count = capacity = self.windows.count()  # the run's requests
        self.arena = arena = Arena(capacity)
        self.workload = Workload(
            arena.full(capacity, 0.0, np.float64),  # (every one drawn before it is read)
            arena.full(capacity, 0, np.int32),
            arena.full(capacity, 0.0, np.float64),
            self.windows.client_ips,
        )
        self.keys = arena.full(capacity, 0, np.uint32)  # each request's client address
        self._fold = fold
        self._bounds = [0]  # the first request of each window drawn, then the end
        self._folded = 0  # windows handed to fold

    @property
    def drawn(self) -> int:
        """Requests drawn so far."""
        return self._bounds[-1]

    def draw_until(self, until: float) -> int:
        """Draw windows until one arrival at or after ``until`` is drawn (the
        run loop reads the arrival after the last one it takes) or none are
        left; the number of requests drawn."""
        workload, windows = self.workload, self.windows
        while len(self._bounds) <= len(windows):
            n = self.drawn
            if n and workload.arrival[n - 1] >= until:
                break
            part = windows.draw(len(self._bounds) - 1)
            end = n + len(part)
            self.arena.prepare(end)
            workload.arrival[n:end] = part.arrival
            workload.client[n:end] = part.client
            workload.demand[n:end] = part.demand
            self.keys[n:end] = part.client_ips[part.client]
            self._bounds.append(end)
        return self.drawn

    def stops(self, lo: float, hi: float) -> list[float]:
        """The window edges in ``(lo, hi)``: where the run loop stops to draw and fold."""
        edges = self.windows.edges
        return [float(t) for t in edges[(edges > lo) & (edges < hi)]]

    def fold_over(self, rec: Recorder, servers: Sequence[Server], arrived: int) -> None:
        """Fold and give back every window, oldest first, that is over
        (module docstring) and whose requests have all arrived."""
        status, held = rec.status, None
        while self._folded < len(self._bounds) - 1:
            lo, hi = self._bounds[self._folded], self._bounds[self._folded + 1]
            if hi > arrived or (status[lo:hi] == INCOMPLETE).any():
                return
            if held is None:
                held = _oldest_held(servers)
            if held < hi:
                return
            self._fold_window(rec)

    def finish(self, rec: Recorder) -> Workload:
        """Fold every window left (the run is over). The recorder keeps no
        rows from then on, and the workload returned (the run's, as
        ``World.workload``) has none."""
        while self._folded < len(self._bounds) - 1:
            self._fold_window(rec)
        rec.columns = {name: np.empty(0, values.dtype) for name, values in rec.columns.items()}
        rec.n_requests = 0
        workload = self.workload
        return Workload(
            np.empty(0, workload.arrival.dtype),
            np.empty(0, workload.client.dtype),
            np.empty(0, workload.demand.dtype),
            workload.client_ips,
        )

    def _fold_window(self, rec: Recorder) -> None:
        lo, hi = self._bounds[self._folded], self._bounds[self._folded + 1]
        self._fold(self.workload, rec, lo, hi)
        self._folded += 1
        self.arena.release(hi)


def _oldest_held(servers: Sequence[Server]) -> float:
    """The smallest request id with an attempt queued or frozen at a server (∞: none)."""
    jobs = [job for server in servers for job in (*server.queue, *server.held) if job >= 0]
    return (min(jobs) >> ATTEMPT_BITS) if jobs else math.inf
