"""The plug-in protocol between the balancer and a balancing algorithm (v2).

An algorithm sees the backends only through a :class:`HostSet`, which holds
what a real balancer knows: configured weights, which hosts it believes
available, and its *own* count of outstanding requests per host. It never
sees a server's true queue (the one exception, ``jsq_oracle``, is named for
what it is and reads ``HostSet.true_load``). Its random numbers come from the
``Generator`` it is constructed with, so tests can script them.

Each pick is handed a read-only :class:`Request` view (Envoy's
``LoadBalancerContext``): who sends it, its attempt number, the hosts already
tried for it (NGINX's ``tried`` bitmap), and the ``hash_key`` the route's hash
policy computed. Outcomes come back through ``on_complete(host, latency,
status)``. Membership and availability changes arrive as listener calls on
the host set (``hosts_added`` / ``hosts_removed`` / ``hosts_changed``), with
the hosts that changed, so a policy updates only what moved; any number of
listeners (the algorithm, health checks, slow start...) may subscribe.
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import numpy as np


class Request(Protocol):
    """What an algorithm may know of the request it balances (read-only)."""

    @property
    def client_address(self) -> int:
        """The client's IPv4 address as an int (after NAT, as the balancer sees it)."""
        ...

    @property
    def client_id(self) -> int:
        """Index of the sending client in the population."""
        ...

    @property
    def session_id(self) -> int:
        """The user session this request belongs to (-1: none)."""
        ...

    @property
    def route(self) -> int:
        """Index of the route that matched (0 for a flat scenario)."""
        ...

    @property
    def connection_id(self) -> int:
        """The client connection carrying the request (-1: one per request)."""
        ...

    @property
    def attempt(self) -> int:
        """0 for the first try, 1 for the first retry, ..."""
        ...

    @property
    def tried(self) -> Collection[int]:
        """Hosts already tried for this request (empty on the first attempt)."""
        ...

    @property
    def hash_key(self) -> int:
        """The key of the route's hash policy (default: the client address)."""
        ...


class RequestView:
    """A plain, settable :class:`Request` (tests, and balancers that reuse one)."""

    __slots__ = (
        "attempt",
        "client_address",
        "client_id",
        "connection_id",
        "hash_key",
        "route",
        "session_id",
        "tried",
    )

    def __init__(
        self,
        hash_key: int = 0,
        *,
        client_address: int | None = None,
        client_id: int = 0,
        session_id: int = -1,
        route: int = 0,
        connection_id: int = -1,
        attempt: int = 0,
        tried: Collection[int] = (),
    ) -> None:
        self.hash_key = hash_key
        self.client_address = hash_key if client_address is None else client_address
        self.client_id = client_id
        self.session_id = session_id
        self.route = route
        self.connection_id = connection_id
        self.attempt = attempt
        self.tried = tried


FIRST_ATTEMPT = RequestView()  # attempt 0, nothing tried, nobody in particular (never written)


class HostListener:
    """Receives a host set's changes; every method is optional (no-op here)."""

    def hosts_added(self, hosts: Sequence[int]) -> None:
        """``hosts`` joined the set (provisioned; not yet available)."""

    def hosts_removed(self, hosts: Sequence[int]) -> None:
        """``hosts`` left the set."""

    def hosts_changed(self, hosts: Sequence[int]) -> None:
        """Availability or weight of ``hosts`` changed."""


class HostSet:
    """The balancer's view of its hosts, shared with its algorithm.

    ``outstanding[i]`` is maintained by the balancer (incremented before
    ``on_send``, decremented before ``on_complete``). ``available`` and
    ``weights`` change only through :meth:`update` and :meth:`set_weights`,
    which notify every listener with the hosts that changed (never all of
    them when one moved). ``weight_scale`` is how many units of ``weights``
    make one configured weight (16 while slow start keeps weights in
    sixteenths), for rules with integer arithmetic on the configured weight.
    """

    __slots__ = (
        "available",
        "listeners",
        "members",
        "names",
        "outstanding",
        "true_load",
        "weight_scale",
        "weights",
    )

    def __init__(
        self,
        names: list[str],
        weights: list[int],
        true_load: Callable[[int], int] | None = None,
    ) -> None:
        self.names = names
        self.weights = list(weights)
        self.weight_scale = 1
        self.members = [True] * len(names)
        self.available = [True] * len(names)
        self.outstanding = [0] * len(names)
        self.true_load = true_load
        self.listeners: list[HostListener] = []

    def __len__(self) -> int:
        return len(self.names)

    def subscribe(self, listener: HostListener) -> None:
        """Call ``listener`` on every later change."""
        self.listeners.append(listener)

    def eligible(self) -> list[int]:
        """Indices of the hosts currently believed available."""
        return [i for i, ok in enumerate(self.available) if ok]

    def update(self, available: Sequence[bool]) -> list[int]:
        """Set availability of every host; notify and return those that changed."""
        current = self.available
        changed = [i for i, ok in enumerate(available) if ok != current[i]]
        if changed:
            for i in changed:
                current[i] = bool(available[i])
            for listener in self.listeners:
                listener.hosts_changed(changed)
        return changed

    def set_weights(self, weights: Mapping[int, int]) -> list[int]:
        """Change the weights of some hosts; notify once and return those that changed."""
        changed = [host for host, weight in weights.items() if self.weights[host] != weight]
        if changed:
            for host in changed:
                self.weights[host] = weights[host]
            for listener in self.listeners:
                listener.hosts_changed(changed)
        return changed

    def add(self, hosts: Sequence[int]) -> None:
        """Provision ``hosts`` (they become available through :meth:`update`)."""
        for i in hosts:
            self.members[i] = True
        for listener in self.listeners:
            listener.hosts_added(hosts)

    def remove(self, hosts: Sequence[int]) -> None:
        """Deprovision ``hosts``; they are made unavailable first."""
        self.update([ok and i not in set(hosts) for i, ok in enumerate(self.available)])
        for i in hosts:
            self.members[i] = False
        for listener in self.listeners:
            listener.hosts_removed(hosts)


Backends = HostSet  # the v1 name, kept for plug-ins written against it


class Params(BaseModel):
    """Base of an algorithm's parameters: validated when the scenario loads
    (infinities and NaN refused; the scenario also refuses booleans and
    out-of-range numbers, lbsim.scenario.numbers)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class Algorithm(Protocol):
    """What the balancer calls."""

    def pick(self, request: Request) -> int | None:
        """Index of the host for this request, or None if none is eligible."""
        ...

    def on_send(self, host: int) -> None:
        """A request was forwarded to ``host``."""
        ...

    def on_complete(self, host: int, latency: float, status: int) -> None:
        """An attempt on ``host`` ended after ``latency`` seconds with ``status``
        (a :mod:`lbsim.status` code; TIMEOUT when the balancer gave up on it)."""
        ...


class BaseAlgorithm(HostListener, ABC):
    """Convenience base: subscribes to the host set, no-op hooks; subclasses
    implement ``pick`` and whichever listener methods they need.

    ``request_blind`` (a class attribute; False unless a policy says so): its
    pick reads nothing of the request but ``tried`` and ``attempt``, so the
    engine may hand a first attempt one shared view of an anonymous first
    attempt (:data:`FIRST_ATTEMPT`) instead of filling in who sends it.
    """

    request_blind: ClassVar[bool] = False

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: Params) -> None:
        self.backends = backends
        self.rng = rng
        self.params = params
        backends.subscribe(self)

    @abstractmethod
    def pick(self, request: Request) -> int | None:
        """Index of the host for this request, or None if none is eligible."""

    def on_send(self, host: int) -> None:
        """Nothing to do by default."""

    def on_complete(self, host: int, latency: float, status: int) -> None:
        """Nothing to do by default."""


AlgorithmFactory = Callable[[HostSet, "np.random.Generator", Params], Algorithm]


class KeyedHeap:
    """Backends ordered by ``(key, insertion number)``: the smallest key first,
    equal keys first-in first-out (which makes ties go round robin).

    Re-keying a backend inserts a new entry and leaves the old one to be
    skipped when it surfaces (lazy deletion), so every operation is
    O(log n); the heap is compacted when stale entries pile up.
    """

    __slots__ = ("_current", "_heap", "_seq", "keys")

    def __init__(self, size: int) -> None:
        self.keys: list[float | None] = [None] * size  # None: not in the heap
        self._current = [0] * size  # insertion number of each backend's live entry
        self._heap: list[tuple[float, int, int]] = []
        self._seq = 0

    def push(self, backend: int, key: float) -> None:
        """(Re-)insert ``backend`` with ``key``, behind equal keys."""
        self.keys[backend] = key
        self._seq += 1
        self._current[backend] = self._seq
        heapq.heappush(self._heap, (key, self._seq, backend))
        if len(self._heap) > 4 * len(self._current) + 64:
            current = self._current
            self._heap = [entry for entry in self._heap if current[entry[2]] == entry[1]]
            heapq.heapify(self._heap)

    def top(self) -> int | None:
        """The backend with the smallest key (None if empty)."""
        heap, current = self._heap, self._current
        while heap:
            _, seq, backend = heap[0]
            if current[backend] == seq:
                return backend
            heapq.heappop(heap)
        return None


ROUND_ROBIN = -1  # a hash lookup gave up; NGINX then falls back to round robin


class HashMemo:
    """The backend chosen per hash key, remembered until the backends change.

    Hash lookups (IP hash, rings) depend only on the key and the backends'
    state, so a key's answer is computed once; the memo is emptied at
    ``limit`` keys to bound memory.
    """

    __slots__ = ("_limit", "_memo")

    def __init__(self, limit: int = 1 << 20) -> None:
        self._memo: dict[int, int] = {}
        self._limit = limit

    def get(self, key: int, lookup: Callable[[int], int], argument: int) -> int:
        """``lookup(argument)``, remembered under ``key``."""
        backend = self._memo.get(key)
        if backend is None:
            backend = lookup(argument)
            if len(self._memo) >= self._limit:
                self._memo.clear()
            self._memo[key] = backend
        return backend


ENVOY_MAX_PRE_PICKS = 429_496_729  # createWithPicks takes picks % (UINT32_MAX / 10)


class EdfScheduler:
    """Envoy's earliest-deadline-first schedule over host indices.

    ``source/common/upstream/edf_scheduler.h``: an entry added with weight
    ``w`` is due at ``current_time + 1/w``; a pick takes the earliest deadline
    (ties: the entry added first), moves ``current_time`` to it and adds the
    entry again with ``weight(host)`` as of that pick (so ``current_time`` is
    always the deadline last popped and need not be stored). The constructor is
    ``createWithPicks``: the state after ``picks`` picks from a fresh schedule,
    computed as Envoy does (each host credited ``floor(picks · w/W)`` picks on
    weights plus 1e-13, the rest picked one by one), so balancers seeded
    differently start at different points of the rotation.
    """

    __slots__ = ("_heap", "_order")

    def __init__(self, hosts: Sequence[int], weight: Callable[[int], float], picks: int) -> None:
        picks %= ENVOY_MAX_PRE_PICKS
        augmented = [weight(host) + 1e-13 for host in hosts]
        total = 0.0
        for value in augmented:  # std::accumulate, left to right (sum() compensates in 3.12)
            total += value
        self._order = len(hosts)
        self._heap: list[tuple[float, int, int]] = []
        done = 0
        for order, (host, value) in enumerate(zip(hosts, augmented, strict=True)):
            floor = int(value * picks / total)
            if floor > 0 and floor / value >= picks / total:
                floor -= 1  # Envoy's guard against floor(a·b) > a·b in floating point
            self._heap.append(((floor + 1) / value, order, host))
            done += floor
        heapq.heapify(self._heap)
        for _ in range(picks - done if hosts else 0):
            self.pick(weight)

    def pick(self, weight: Callable[[int], float]) -> int:
        """The host with the earliest deadline, re-added with ``weight(host)``."""
        deadline, _, host = heapq.heappop(self._heap)  # Envoy's current_time becomes deadline
        heapq.heappush(self._heap, (deadline + 1.0 / weight(host), self._order, host))
        self._order += 1
        return host
