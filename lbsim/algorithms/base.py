"""The plug-in protocol between the balancer and a balancing algorithm.

An algorithm sees the backends only through a :class:`Backends` view, which
holds what a real balancer knows: configured weights, which backends it
believes available, and its *own* count of outstanding requests per backend.
It never sees a server's true queue (the one exception, ``jsq_oracle``, is
named for what it is and reads ``Backends.true_load``). Its random numbers come
from the ``Generator`` it is constructed with, so tests can script them.
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict


class Backends:
    """The balancer's view of its backends, shared with its algorithm.

    ``outstanding[i]`` is maintained by the balancer (incremented before
    ``on_send``, decremented before ``on_complete``); ``available`` and
    ``weights`` change only together with a call to ``on_change``.
    """

    __slots__ = ("available", "names", "outstanding", "true_load", "weights")

    def __init__(
        self,
        names: list[str],
        weights: list[int],
        true_load: Callable[[int], int] | None = None,
    ) -> None:
        self.names = names
        self.weights = list(weights)
        self.available = [True] * len(names)
        self.outstanding = [0] * len(names)
        self.true_load = true_load

    def __len__(self) -> int:
        return len(self.names)

    def eligible(self) -> list[int]:
        """Indices of the backends currently believed available."""
        return [i for i, ok in enumerate(self.available) if ok]


class Params(BaseModel):
    """Base of an algorithm's parameters: validated when the scenario loads."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Algorithm(Protocol):
    """What the balancer calls. ``key`` is the client's IPv4 address as an int."""

    def pick(self, key: int) -> int | None:
        """Index of the backend for this request, or None if none is eligible."""
        ...

    def on_send(self, backend: int) -> None:
        """A request was forwarded to ``backend``."""
        ...

    def on_complete(self, backend: int, latency: float) -> None:
        """A response came back from ``backend`` after ``latency`` seconds."""
        ...

    def on_change(self) -> None:
        """Availability or weights of some backend changed."""
        ...


class BaseAlgorithm(ABC):
    """Convenience base with no-op hooks; subclasses implement ``pick``."""

    def __init__(self, backends: Backends, rng: np.random.Generator, params: Params) -> None:
        self.backends = backends
        self.rng = rng
        self.params = params

    @abstractmethod
    def pick(self, key: int) -> int | None:
        """Index of the backend for this request, or None if none is eligible."""

    def on_send(self, backend: int) -> None:  # noqa: B027 - optional hook
        """Nothing to do by default."""

    def on_complete(self, backend: int, latency: float) -> None:  # noqa: B027 - optional hook
        """Nothing to do by default."""

    def on_change(self) -> None:  # noqa: B027 - optional hook
        """Nothing to do by default."""


AlgorithmFactory = Callable[[Backends, np.random.Generator, Params], Algorithm]


class Uniforms:
    """Uniform [0, 1) draws from one generator, fetched in blocks.

    Drawing one numpy scalar at a time costs more than the rest of a pick;
    blocks keep the same stream (so results stay reproducible) at a fraction
    of the cost.
    """

    __slots__ = ("_block", "_rng", "_size")

    def __init__(self, rng: np.random.Generator, block: int = 4096) -> None:
        self._rng = rng
        self._size = block
        self._block: list[float] = []

    def next(self) -> float:
        if not self._block:
            self._block = self._rng.random(self._size).tolist()
            self._block.reverse()
        return self._block.pop()


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
