"""Raw facts of a run, recorded columnwise: no Python object per request.

Per-request outcome columns are numpy arrays allocated once for the whole
workload (the workload's own columns hold arrival, client and demand). The
hot path writes them through memoryviews, which take and give plain Python
numbers at a fraction of numpy's per-item cost. Levels (queue depth, requests
in service, outstanding, health) are sampled at a fixed period into int32
rows; transitions go to an event log. Statistics are computed afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lbsim.status import (  # noqa: F401 - re-exported for the engine
    CONN_ERROR,
    INCOMPLETE,
    NO_BACKEND,
    OK,
    REJECTED,
    SERVER_ERROR,
    STATUSES,
    TIMEOUT,
)

LEVELS = ("queue", "in_service", "outstanding", "healthy", "up")
BALANCER_LEVELS = ("in_rotation", "outstanding", "up")  # sampled per balancer instance

# A writable memoryview of a numpy column: indexing takes and gives plain
# Python numbers (typed Any: memoryview's stubs only know bytes-like items).
Column = Any


def column(array: np.ndarray) -> Column:
    """The hot-path view of ``array``."""
    return array.data


@dataclass
class Event:
    """Something that happened at a point in simulated time."""

    time: float
    kind: str
    target: str
    detail: str = ""


@dataclass
class Recorder:
    """Per-request outcome columns, sampled levels and the event log of one run."""

    n_requests: int
    n_servers: int
    server: np.ndarray = field(init=False)  # int32, -1 = none
    start: np.ndarray = field(init=False)  # float64, NaN = never served
    end: np.ndarray = field(init=False)  # float64, NaN = never answered
    status: np.ndarray = field(init=False)  # int8 index into STATUSES
    retries: np.ndarray = field(init=False)  # int8: attempts after the first
    balancer: np.ndarray = field(init=False)  # int16
    sent: np.ndarray = field(init=False)  # float64: when the latest attempt was sent
    inflight: bytearray = field(init=False)  # 1 while an attempt awaits its answer
    abandoned: int = 0  # answers to abandoned attempts: work done for nobody
    busy_area: np.ndarray = field(init=False)  # per server: worker-seconds busy in the window
    queue_area: np.ndarray = field(init=False)  # per server: job-seconds waiting in the window
    queue_peak: np.ndarray = field(init=False)  # per server: longest queue in the window
    sample_times: list[float] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # (len(LEVELS), n_servers) each
    balancer_samples: list[np.ndarray] = field(default_factory=list)  # (instances, 3) each
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.n_requests
        self.server = np.full(n, -1, dtype=np.int32)
        self.start = np.full(n, np.nan)
        self.end = np.full(n, np.nan)
        self.status = np.full(n, INCOMPLETE, dtype=np.int8)
        self.retries = np.zeros(n, dtype=np.int8)
        self.balancer = np.zeros(n, dtype=np.int16)
        self.sent = np.full(n, np.nan)
        self.inflight = bytearray(n)
        self.busy_area = np.zeros(self.n_servers)
        self.queue_area = np.zeros(self.n_servers)
        self.queue_peak = np.zeros(self.n_servers, dtype=np.int64)

    def views(self) -> tuple[Column, Column, Column, Column]:
        """Fast writable views of (server, start, end, status) for the hot path."""
        return column(self.server), column(self.start), column(self.end), column(self.status)

    def sample(self, time: float, levels: np.ndarray, balancers: np.ndarray) -> None:
        self.sample_times.append(time)
        self.samples.append(levels)
        self.balancer_samples.append(balancers)

    def log(self, time: float, kind: str, target: str, detail: str = "") -> None:
        self.events.append(Event(time, kind, target, detail))

    @property
    def nbytes(self) -> int:
        """Memory held by the per-request columns."""
        columns = (self.server, self.start, self.end, self.status, self.retries, self.balancer)
        return sum(column.nbytes for column in columns) + self.sent.nbytes + len(self.inflight)
