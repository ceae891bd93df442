"""The client side: who sends requests, when, and how much work each one is.

The whole workload of a run is drawn up front into numpy columns, each
attribute from its own stream: arrival times (``arrivals``), the sending
client (``clients``), the service demand (``demand``). Nothing the balancer
or the servers do can change it, so every variant of a ``compare:`` faces the
identical workload (common random numbers), and recording the workload costs
no work on the simulation's hot path.

Time-varying load follows a piecewise-linear rate profile: Poisson arrivals by
thinning (Lewis & Shedler: candidates at the peak rate, each kept with
probability rate(t) / peak), deterministic ones where the integrated rate
crosses each whole number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lbsim.scenario import Arrivals, Clients, Scenario
from lbsim.scenario.models import WebSocket
from lbsim.streams import stream

WINDOW = 1 << 20  # most requests a window of an open-loop workload expects (Windows)


@dataclass(frozen=True)
class Workload:
    """Every request of a run, one array per attribute, in arrival order."""

    arrival: np.ndarray  # float64 seconds
    client: np.ndarray  # int32 index into client_ips
    demand: np.ndarray  # float64 seconds of work on a speed-1 server
    client_ips: np.ndarray  # uint32 IPv4 address of each client
    request_class: np.ndarray | None = None  # int16 index into clients.mix (None: no mix)
    channel: np.ndarray | None = None  # int32 WebSocket of each request (None: no WebSockets)
    channel_end: np.ndarray | None = None  # float64 when each WebSocket closes
    # closed-loop sessions only (lbsim.engine.sessions): the session of each
    # request, and the think time before it (after the previous answer)
    session: np.ndarray | None = None  # int32
    think: np.ndarray | None = None  # float64 seconds

    def __len__(self) -> int:
        return len(self.arrival)


def rate_at(arrivals: Arrivals, times: np.ndarray) -> np.ndarray:
    """The arrival rate at ``times`` (per second)."""
    if arrivals.profile is None:
        assert arrivals.rate is not None
        return np.full(len(times), arrivals.rate)
    at = np.array([p.at for p in arrivals.profile])
    rate = np.array([p.rate for p in arrivals.profile])
    return np.interp(times, at, rate)


def _profile_knots(arrivals: Arrivals, duration: float) -> tuple[np.ndarray, np.ndarray]:
    assert arrivals.profile is not None
    at = np.array([p.at for p in arrivals.profile] + [duration])
    at = np.unique(np.clip(np.concatenate([[0.0], at]), 0, duration))
    return at, rate_at(arrivals, at)


def arrival_times(
    arrivals: Arrivals,
    duration: float,
    rng: np.random.Generator,
    window: tuple[float, float] | None = None,
) -> np.ndarray:
    """Arrival times in [0, duration), or those in ``window`` (a ``[lo, hi)``
    part of the run: successive windows drawn from one ``rng`` in order are
    the run's arrivals, and the whole run is its one window)."""
    lo, hi = window if window is not None else (0.0, duration)
    if arrivals.process == "poisson":
        peak = arrivals.peak_rate
        count = rng.poisson(peak * (hi - lo))
        times = np.sort(rng.uniform(lo, hi, count))
        if arrivals.profile is not None:
            keep = rng.random(count) * peak < rate_at(arrivals, times)
            times = times[keep]
        return times
    if arrivals.profile is None:
        assert arrivals.rate is not None
        rate = arrivals.rate
        # the k-th arrival at k / rate; a window holds the k from ceil(lo·rate)
        times = np.arange(int(np.ceil(lo * rate)), int(np.ceil(hi * rate))) / rate
        return times[times < duration]
    # Deterministic along a profile: the k-th arrival is where the integrated
    # rate Λ(t) reaches k; Λ is piecewise quadratic, so solve within a segment.
    knots, rates = _profile_knots(arrivals, duration)
    widths = np.diff(knots)
    areas = widths * (rates[:-1] + rates[1:]) / 2
    cumulative = np.concatenate([[0.0], np.cumsum(areas)])
    first = 0.0 if lo <= 0 else np.ceil(_integrated(lo, knots, rates, cumulative))
    last = cumulative[-1] if hi >= duration else np.ceil(_integrated(hi, knots, rates, cumulative))
    targets = np.arange(first, last)
    segment = np.clip(np.searchsorted(cumulative, targets, side="right") - 1, 0, len(areas) - 1)
    need = targets - cumulative[segment]
    r0 = rates[segment]
    slope = (rates[segment + 1] - r0) / widths[segment]
    # the root of r0·x + slope·x²/2 = need, in the form without cancellation
    offset = 2 * need / (r0 + np.sqrt(r0 * r0 + 2 * slope * need))
    times = knots[segment] + offset
    return times[times < duration]


def _integrated(t: float, knots: np.ndarray, rates: np.ndarray, cumulative: np.ndarray) -> float:
    """Λ(t): the expected arrivals before ``t`` along the profile."""
    segment = min(int(np.searchsorted(knots, t, side="right")) - 1, len(knots) - 2)
    x = t - knots[segment]
    slope = (rates[segment + 1] - rates[segment]) / (knots[segment + 1] - knots[segment])
    return float(cumulative[segment] + rates[segment] * x + slope * x * x / 2)


def client_addresses(clients: Clients, rng: np.random.Generator) -> np.ndarray:
    """IPv4 addresses (uint32) of the clients.

    Clients spread over ``subnets`` random /24 networks (one each by
    default); with ``nat``, a ``fraction`` of them send from one of a few
    gateway addresses instead.
    """
    count = clients.count
    networks = rng.integers(1 << 8, 223 << 16, clients.subnets or count, dtype=np.uint32) << 8
    network = networks[rng.integers(0, len(networks), count)] if clients.subnets else networks
    ips = network | rng.integers(1, 255, count, dtype=np.uint32)
    if clients.nat is not None:
        gateways = rng.integers(1 << 24, 223 << 24, clients.nat.gateways, dtype=np.uint32)
        behind = rng.random(count) < clients.nat.fraction
        ips[behind] = gateways[rng.integers(0, len(gateways), int(behind.sum()))]
    return ips.astype(np.uint32)


def session_workload(scenario: Scenario) -> Workload:
    """Every request of every session, in session order, drawn before the run.

    Session starts follow ``clients.arrivals``; each session's client, length,
    demands, think times and request classes (``mix``) come from their own
    streams in session order, so
    each session's sequence is fixed whatever a variant does (common random
    numbers, as if each session had a stream of its own). Only a session's
    first request has its arrival time here (its start); the others are sent
    when the closed loop reaches them, and their ``arrival`` is NaN.
    """
    seed = scenario.seed
    clients = scenario.clients
    sessions = clients.sessions
    assert sessions is not None
    starts = arrival_times(clients.arrivals, scenario.duration, stream(seed, "session-starts"))
    count = len(starts)
    if isinstance(sessions.requests, int):
        lengths = np.full(count, sessions.requests, dtype=np.int64)
    else:
        drawn = sessions.requests.sample(stream(seed, "session-lengths"), count)
        lengths = np.maximum(1, np.rint(drawn)).astype(np.int64)
    n = int(lengths.sum())
    session = np.repeat(np.arange(count, dtype=np.int32), lengths)
    users = stream(seed, "session-clients").integers(0, clients.count, count, dtype=np.int32)
    firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    arrival = np.full(n, np.nan)
    arrival[firsts] = starts
    think = sessions.think.sample(stream(seed, "session-think"), n).astype(np.float64)
    think[firsts] = 0.0
    demand = clients.service.sample(stream(seed, "demand"), n).astype(np.float64)
    ips = client_addresses(clients, stream(seed, "client-addresses"))
    kinds = _mix(clients, demand, MixStreams(clients, seed))
    return Workload(arrival, users[session], demand, ips, kinds, session=session, think=think)


def websocket_messages(
    opened: np.ndarray, websocket: WebSocket, duration: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The requests of WebSockets opened at ``opened``: each one's upgrade
    (at its opening) and its messages, Poisson at ``message_rate`` over its
    lifetime (``websocket-durations``, ``websocket-messages`` streams), cut at
    ``duration``. Returns (arrival times, WebSocket of each, when each closes)."""
    lifetime = websocket.duration.sample(stream(seed, "websocket-durations"), len(opened))
    ends = opened + lifetime
    rng = stream(seed, "websocket-messages")
    counts = rng.poisson(websocket.message_rate * lifetime)
    owner = np.repeat(np.arange(len(opened), dtype=np.int32), counts)
    times = opened[owner] + rng.random(len(owner)) * lifetime[owner]
    times = np.concatenate([opened, times])
    owner = np.concatenate([np.arange(len(opened), dtype=np.int32), owner])
    order = np.argsort(times, kind="stable")  # an upgrade comes before its messages
    times, owner = times[order], owner[order]
    keep = times < duration
    return times[keep], owner[keep], ends


def draw_workload(scenario: Scenario) -> Workload:
    """The full workload of ``scenario``, identical for every variant.

    With WebSockets, ``arrivals`` opens them and ``clients`` draws one
    client per WebSocket; its requests are its upgrade and its messages.
    Other open-loop workloads are their windows (:class:`Windows`) end to end."""
    seed = scenario.seed
    clients = scenario.clients
    if clients.sessions is not None:
        return session_workload(scenario)
    websocket = clients.connections.websocket if clients.connections else None
    if websocket is None:
        windows = Windows(scenario)
        return concatenate([windows.draw(k) for k in range(len(windows))])
    opened = arrival_times(clients.arrivals, scenario.duration, stream(seed, "arrivals"))
    arrival, channel, ends = websocket_messages(opened, websocket, scenario.duration, seed)
    owner = stream(seed, "clients").integers(0, clients.count, len(opened), dtype=np.int32)
    client = owner[channel]
    demand = clients.service.sample(stream(seed, "demand"), len(arrival)).astype(np.float64)
    ips = client_addresses(clients, stream(seed, "client-addresses"))
    kinds = _mix(clients, demand, MixStreams(clients, seed), channel)
    return Workload(arrival, client, demand, ips, kinds, channel, ends)


class Windows:
    """An open-loop workload (no sessions, no WebSockets) as successive
    windows of the run, each expecting at most :data:`WINDOW` requests (one
    window for most runs), drawn in order from the workload's streams: each
    attribute of a window continues its stream where the previous window
    left it, so a run drawn window by window (``records: none``,
    :mod:`lbsim.engine.windows`) has exactly the requests of one drawn whole."""

    def __init__(self, scenario: Scenario) -> None:
        seed, clients = scenario.seed, scenario.clients
        self._scenario = scenario
        at_peak = clients.arrivals.peak_rate * scenario.duration  # requests, at most expected
        self.edges = np.linspace(0.0, scenario.duration, max(1, math.ceil(at_peak / WINDOW)) + 1)
        self._arrivals = stream(seed, "arrivals")
        self._clients = stream(seed, "clients")
        self._demand = stream(seed, "demand")
        self._mix = MixStreams(clients, seed)
        self.client_ips = client_addresses(clients, stream(seed, "client-addresses"))

    def __len__(self) -> int:
        return len(self.edges) - 1

    def count(self) -> int:
        """How many requests the run has: its arrivals drawn window by window
        from a stream of their own, and only counted."""
        rng = stream(self._scenario.seed, "arrivals")
        return sum(len(self._arrival_times(k, rng)) for k in range(len(self)))

    def draw(self, k: int) -> Workload:
        """The requests of window ``k`` (call for k = 0, 1, … in order)."""
        clients = self._scenario.clients
        arrival = self._arrival_times(k, self._arrivals)
        client = self._clients.integers(0, clients.count, len(arrival), dtype=np.int32)
        demand = clients.service.sample(self._demand, len(arrival)).astype(np.float64)
        kinds = _mix(clients, demand, self._mix)
        return Workload(arrival, client, demand, self.client_ips, kinds)

    def _arrival_times(self, k: int, rng: np.random.Generator) -> np.ndarray:
        window = (float(self.edges[k]), float(self.edges[k + 1]))
        scenario = self._scenario
        return arrival_times(scenario.clients.arrivals, scenario.duration, rng, window)


def concatenate(parts: list[Workload]) -> Workload:
    """Open-loop workloads one after the other (the first itself if alone)."""
    if len(parts) == 1:
        return parts[0]
    kinds = [part.request_class for part in parts if part.request_class is not None]
    return Workload(
        np.concatenate([part.arrival for part in parts]),
        np.concatenate([part.client for part in parts]),
        np.concatenate([part.demand for part in parts]),
        parts[0].client_ips,
        np.concatenate(kinds) if kinds else None,
    )


class MixStreams:
    """The streams of ``clients.mix``: the class of each request (``mix``) and
    the demands of each class with a service distribution of its own."""

    def __init__(self, clients: Clients, seed: int) -> None:
        mix = clients.mix or ()
        self.classes = stream(seed, "mix")
        self.demands = {
            index: stream(seed, f"demand/{kind.name}")
            for index, kind in enumerate(mix)
            if kind.service is not None
        }


def _mix(
    clients: Clients, demand: np.ndarray, streams: MixStreams, channel: np.ndarray | None = None
) -> np.ndarray | None:
    """The class of each request (None without ``clients.mix``); a class with
    its own service distribution overwrites its requests' ``demand``. With
    WebSockets the class is drawn per WebSocket: its messages have its
    upgrade's path and host (they travel on its connection)."""
    if clients.mix is None:
        return None
    shares, rng = [c.share for c in clients.mix], streams.classes
    if channel is None:
        kinds = request_classes(shares, rng, len(demand))
    else:
        count = int(channel.max()) + 1 if len(channel) else 0
        kinds = request_classes(shares, rng, count)[channel]
    for index, own in streams.demands.items():  # its own distribution, from its own stream
        service = clients.mix[index].service
        assert service is not None
        chosen = kinds == index
        demand[chosen] = service.sample(own, int(chosen.sum()))
    return kinds


def request_classes(shares: list[float], rng: np.random.Generator, n: int) -> np.ndarray:
    """The class of each of ``n`` requests: class ``k`` when a uniform draw
    falls in ``[Σ shares[:k], Σ shares[:k+1])`` (inverse CDF)."""
    edges = np.cumsum(shares)[:-1]
    return np.searchsorted(edges, rng.random(n), side="right").astype(np.int16)
