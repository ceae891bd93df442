"""Raw facts of a run, recorded columnwise: no Python object per request.

The recorder is a sink: the engine writes each per-request fact once (or
adds to it), and appends sampled levels and transition events. Its
per-request columns come from one registry, :data:`FACTS` — a new fact is one
:func:`register` call (name, dtype, fill), and it flows to
``requests.parquet`` by itself (:func:`lbsim.analysis.result.requests_frame`).
Facts that are also the engine's running state (status, server, attempt,
send time) share the arrays of :class:`lbsim.engine.state.RequestState`
rather than being copied. The hot path writes columns through memoryviews,
which take and give plain Python numbers at a fraction of numpy's per-item
cost. Levels (queue depth, requests in service, outstanding, health) are
sampled at a fixed period into int32 rows; transitions go to an event log.
Statistics are computed afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lbsim.engine.state import Full
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
# sampled per balancer instance (cpu_*: its own CPU, 0 without one)
BALANCER_LEVELS = ("in_rotation", "outstanding", "up", "cpu_busy", "cpu_queue")

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


@dataclass(frozen=True)
class Fact:
    """One registered per-request column."""

    name: str
    dtype: str
    fill: float
    doc: str
    optional: bool = False  # only in recorders that ask for it (a feature's column)


FACTS: dict[str, Fact] = {}


def register(name: str, dtype: str, fill: float, doc: str, *, optional: bool = False) -> Fact:
    """Add a per-request column to every recorder made from now on (an
    ``optional`` one only to recorders that list it in ``optional``)."""
    if name in FACTS:
        raise ValueError(f"request column {name!r} is already registered")
    fact = FACTS[name] = Fact(name, dtype, fill, doc, optional)
    return fact


register("server", "int32", -1, "backend of the latest attempt (-1: none)")
register("start", "float64", math.nan, "start of service of the latest attempt (NaN: never)")
register("end", "float64", math.nan, "when the request ended (NaN: never answered)")
register("status", "int8", INCOMPLETE, "final status, index into STATUSES")
register("retries", "int8", 0, "attempts after the first")
register("balancer", "int16", 0, "balancer instance that handled it")
register("sent", "float64", math.nan, "when the latest attempt was sent")
register("latency_backoff", "float64", 0.0, "seconds spent waiting out retry back-offs")
# Layer 7 (routes, balancer CPU, TLS): only in runs that use them
L7_FACTS = (
    register("route", "int16", -1, "balancer route that matched (-1: none)", optional=True),
    register("version", "int8", -1, "version of the route's pool (0: the first)", optional=True),
    register("request_class", "int16", -1, "class of clients.mix (-1: no mix)", optional=True),
    register("balancer_cpu", "float64", 0.0, "core-seconds of balancer CPU", optional=True),
    register("handshake", "int8", 0, "TLS handshake: 0 none, 1 full, 2 resumed", optional=True),
    register(
        "latency_balancer",
        "float64",
        0.0,
        "seconds queued and served at the balancer CPU",
        optional=True,
    ),
    register("latency_tls", "float64", 0.0, "seconds of extra TLS round trips", optional=True),
)

# Regions and DNS: only in runs with regions
REGION_FACTS = (
    register("region", "int8", -1, "region the request was sent to (-1: none)", optional=True),
    register(
        "latency_network",
        "float64",
        0.0,
        "seconds of network round trip between the client and its region",
        optional=True,
    ),
    register(
        "dns",
        "int8",
        0,
        "DNS: 0 the client's cached answer, 1 its resolver's cache, 2 an authoritative query",
        optional=True,
    ),
)


@dataclass
class SessionFacts:
    """Per session (index = session id): when it started, the server its state
    first lived on (-1: never answered ok) and whether that state was lost."""

    start: np.ndarray  # float64 seconds
    home: np.ndarray  # int32 server index
    lost: np.ndarray  # bool


@dataclass
class Recorder:
    """Per-request facts (:data:`FACTS`), sampled levels and the event log of one run.

    ``shared`` supplies the arrays of facts that are also engine state.
    """

    n_requests: int
    n_servers: int
    shared: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    optional: Collection[str] = ()  # the optional facts this run records
    columns: dict[str, np.ndarray] = field(init=False, repr=False)
    abandoned: int = 0  # answers to abandoned attempts: work done for nobody
    extra: np.ndarray | None = None  # per request: calls beyond one (hedge, fan-out)
    busy_area: np.ndarray = field(init=False)  # per server: worker-seconds busy in the window
    queue_area: np.ndarray = field(init=False)  # per server: job-seconds waiting in the window
    queue_peak: np.ndarray = field(init=False)  # per server: longest queue in the window
    sample_times: list[float] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # (len(LEVELS), n_servers) each
    balancer_samples: list[np.ndarray] = field(default_factory=list)  # (instances, levels)
    # per balancer instance with a CPU: core-seconds busy, job-seconds queued, longest queue
    lb_busy_area: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lb_queue_area: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lb_queue_peak: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    events: list[Event] = field(default_factory=list)
    sessions: SessionFacts | None = None  # closed-loop sessions only
    store_busy_area: float | None = None  # worker-seconds of the session store in the window
    # with a connection model: lbsim.engine.connections.ConnectionTable.stats()
    connections: dict[str, np.ndarray] | None = None
    full: Full = field(default=np.full, repr=False)  # or an arena's

    def __post_init__(self) -> None:
        n = self.n_requests
        self.columns = {
            name: self.shared[name]
            if name in self.shared
            else self.full(n, fact.fill, dtype=fact.dtype)
            for name, fact in FACTS.items()
            if not fact.optional or name in self.optional
        }
        self.busy_area = np.zeros(self.n_servers)
        self.queue_area = np.zeros(self.n_servers)
        self.queue_peak = np.zeros(self.n_servers, dtype=np.int64)

    @property
    def server(self) -> np.ndarray:
        return self.columns["server"]

    @property
    def start(self) -> np.ndarray:
        return self.columns["start"]

    @property
    def end(self) -> np.ndarray:
        return self.columns["end"]

    @property
    def status(self) -> np.ndarray:
        return self.columns["status"]

    @property
    def retries(self) -> np.ndarray:
        return self.columns["retries"]

    @property
    def balancer(self) -> np.ndarray:
        return self.columns["balancer"]

    @property
    def sent(self) -> np.ndarray:
        return self.columns["sent"]

    def sample(self, time: float, levels: np.ndarray, balancers: np.ndarray) -> None:
        self.sample_times.append(time)
        self.samples.append(levels)
        self.balancer_samples.append(balancers)

    def log(self, time: float, kind: str, target: str, detail: str = "") -> None:
        self.events.append(Event(time, kind, target, detail))

    @property
    def nbytes(self) -> int:
        """Memory held by the per-request columns."""
        return sum(column.nbytes for column in self.columns.values())
