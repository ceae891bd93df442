"""Smooth weighted round robin, NGINX's default balancer.

NGINX ``ngx_http_upstream_get_peer`` (``src/http/ngx_http_upstream_round_robin.c``)
keeps a ``current_weight`` per peer. For each request every eligible peer, in
configuration order, adds its weight to its ``current_weight``; the peer with
the strictly largest ``current_weight`` wins (so a tie goes to the earlier
peer) and pays back the total weight of the eligible peers. Weights 5, 1, 1
give ``a a b a c a a``: the heavy peer is spread out instead of served in a
burst. Unavailable backends are skipped and keep their ``current_weight``
until they come back, as a ``down`` peer does in NGINX.

Failures (``ngx_http_upstream_free_round_robin_peer``): an attempt that ends
in an error or a timeout (``CONN_ERROR``, ``TIMEOUT``; a 5xx is not a failure,
as ``proxy_next_upstream`` defaults to ``error timeout``) lowers the peer's
``effective_weight`` by ``weight // max_fails`` (floor 0; ``max_fails=0``
never lowers it). Each pass adds ``effective_weight`` (not ``weight``) to
``current_weight`` and raises ``effective_weight`` by 1 towards ``weight``.
Whether a peer is skipped after ``max_fails`` failures is the passive health
check's business (``passive: {preset: nginx}``), not this class's.

Retries: a peer in ``request.tried`` is skipped by the pass (NGINX's
``tried`` bitmap); when every usable peer was tried the pick is None
(NGINX's ``NGX_BUSY``: "no live upstreams", here ``no_backend``).

Cost. The rule itself is O(n) per pick. Each pass adds the total weight ``W``
to the sum of the current weights and takes it off again. From the all-zero
start the sequence is periodic with period ``W``: every peer is chosen exactly
``w_i`` times per period and the current weights come back to where they
started. So the next ``W`` picks are computed from the current state at once
(O(W·n), vectorised for many peers) and replayed, which makes a pick O(1)
amortised while the eligible set is stable and no peer is recovering from a
failure; while one is, and on retries, picks run the rule directly. The state kept across a change
is the true one (folded back from the position in the schedule), as NGINX
keeps ``current_weight`` across a peer going down and coming back.

Periodicity does *not* hold from every state: with weights 1, 1 and current
weights (5, -5) the first peer wins the next six picks before the two settle
into alternation, and after a change (a peer leaving, or returning with the
current weight it left with) the first ``W`` picks are often such a transient
(about 40 % of changes in random trials). So the schedule checks that the
state after its ``W`` picks equals the state it started from; if not, it
computes the next ``W`` picks from the state reached, and so on until it does
(in those trials always by the second period). Replay is therefore exact:
the golden tests compare it pick by pick with the direct rule. When ``W``
exceeds 1,000,000 no period is stored: picks are computed in blocks of 4,096
by the direct rule, O(n) per pick.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.status import CONN_ERROR, TIMEOUT

if TYPE_CHECKING:
    import numpy as np

SCHEDULE_CAP = 1_000_000  # longest period stored; beyond it picks are computed in blocks
BLOCK = 4_096  # picks computed at a time when the period is not stored
_NUMPY_FROM = 24  # eligible peers from which numpy beats a Python loop per pass
NGINX_FAILURES = frozenset({CONN_ERROR, TIMEOUT})  # proxy_next_upstream default: error timeout


def swrr_passes(current: list[int], weights: list[int], steps: int) -> tuple[list[int], list[int]]:
    """Run ``steps`` passes of NGINX's rule over peers with ``weights``.

    ``current`` holds their current weights (it is not modified). Returns the
    indices (into ``weights``) of the chosen peers and the current weights
    after the last pass.
    """
    total = sum(weights)
    chosen: list[int] = []
    if len(weights) < _NUMPY_FROM:
        state = list(current)
        order = range(len(weights))
        for _ in range(steps):
            best = 0
            best_weight = state[0] + weights[0]
            state[0] = best_weight
            for i in order[1:]:
                value = state[i] + weights[i]
                state[i] = value
                if value > best_weight:  # strict: a tie goes to the earlier peer
                    best, best_weight = i, value
            state[best] = best_weight - total
            chosen.append(best)
        return chosen, state
    import numpy as np

    vector = np.asarray(current, dtype=np.int64)
    weight_vector = np.asarray(weights, dtype=np.int64)
    for _ in range(steps):
        vector += weight_vector
        best = int(vector.argmax())  # first maximum: a tie goes to the earlier peer
        vector[best] -= total
        chosen.append(best)
    return chosen, [int(v) for v in vector]


class NginxParams(Params):
    """``max_fails`` as on NGINX's ``server`` line: how much one failure lowers
    ``effective_weight`` (by ``weight // max_fails``; 0: never)."""

    max_fails: int = Field(1, ge=0)


class NginxPeers:
    """NGINX's per-peer round-robin state: ``current_weight``, ``effective_weight``.

    Shared by smooth weighted round robin and ``least_conn`` (whose ties run
    the same pass, and whose failures go through the same ``free_peer``).
    Weights are the host set's; with ``weight_scale`` 16 (slow start) one
    NGINX weight unit is 16 of them, so failures and recovery use that unit.
    """

    __slots__ = ("backends", "current", "effective", "max_fails", "seen")

    def __init__(self, backends: HostSet, max_fails: int) -> None:
        self.backends = backends
        self.max_fails = max_fails
        self.current = [0] * len(backends)
        self.effective = list(backends.weights)
        self.seen = list(backends.weights)

    def reweigh(self, hosts: Sequence[int]) -> None:
        """A changed weight resets ``effective_weight`` to it (a reconfigured peer)."""
        weights = self.backends.weights
        for host in hosts:
            if weights[host] != self.seen[host]:
                self.seen[host] = self.effective[host] = weights[host]

    def fail(self, host: int) -> bool:
        """A failed attempt on ``host``; True if its ``effective_weight`` dropped."""
        backends = self.backends
        if not self.max_fails:
            return False
        scale = backends.weight_scale
        drop = backends.weights[host] // scale // self.max_fails * scale
        before = self.effective[host]
        self.effective[host] = max(0, before - drop)
        return self.effective[host] != before

    def recovering(self, hosts: Sequence[int]) -> bool:
        """Whether any of ``hosts`` has ``effective_weight`` below its weight."""
        weights, effective = self.backends.weights, self.effective
        return any(effective[host] < weights[host] for host in hosts)

    def select(self, candidates: Sequence[int]) -> int | None:
        """One pass of ``ngx_http_upstream_get_peer`` over ``candidates`` (in order)."""
        weights, current, effective = self.backends.weights, self.current, self.effective
        step = self.backends.weight_scale
        best: int | None = None
        total = 0
        for host in candidates:
            current[host] += effective[host]
            total += effective[host]
            if effective[host] < weights[host]:
                effective[host] = min(weights[host], effective[host] + step)
            if best is None or current[host] > current[best]:  # strict: ties -> earlier
                best = host
        if best is not None:
            current[best] -= total
        return best


def untried(hosts: list[int], tried: Collection[int]) -> list[int]:
    """``hosts`` without those already tried for the request."""
    return [host for host in hosts if host not in tried] if tried else hosts


class WeightedRoundRobin(BaseAlgorithm):
    """Smooth weighted round robin: 5,1,1 gives a a b a c a a (NGINX default)."""

    name: ClassVar[str] = "weighted_round_robin"
    Params = NginxParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        # ip_hash and ketama fall back to this with plain Params: NGINX's max_fails=1
        max_fails = params.max_fails if isinstance(params, NginxParams) else 1
        self._peers = NginxPeers(backends, max_fails)
        self._current = self._peers.current  # NGINX current_weight of every peer
        self._direct = False  # a peer is recovering: run the rule pick by pick
        self._eligible: list[int] = []
        self._weights: list[int] = []
        self._total = 0
        self._start: list[int] = []  # current weights of the eligible peers at schedule start
        self._end: list[int] = []  # ... after the last pick of the schedule
        self._local: list[int] = []  # schedule as indices into self._eligible
        self._schedule: list[int] = []  # schedule as backend indices
        self._pos = 0
        self._periodic = False
        self._stale = True
        self.hosts_changed()

    def current_weights(self) -> list[int]:
        """NGINX's ``current_weight`` of every backend, as of now."""
        self._sync()
        return list(self._current)

    def _sync(self) -> None:
        """Fold the picks replayed so far into ``self._current``."""
        if self._stale:
            return
        counts = [0] * len(self._eligible)
        for i in self._local[: self._pos]:
            counts[i] += 1
        pos, total = self._pos, self._total
        for i, backend in enumerate(self._eligible):
            self._current[backend] = self._start[i] + pos * self._weights[i] - total * counts[i]

    def _drop_schedule(self) -> None:
        self._sync()
        self._schedule = []
        self._local = []
        self._pos = 0
        self._stale = True

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._drop_schedule()
        self._peers.reweigh(hosts)
        self._eligible = self.backends.eligible()
        self._weights = [self.backends.weights[i] for i in self._eligible]
        self._total = sum(self._weights)
        self._direct = self._peers.recovering(self._eligible)

    def on_complete(self, host: int, latency: float, status: int) -> None:
        if status in NGINX_FAILURES and self._peers.fail(host):
            self._drop_schedule()
            self._direct = True

    def _refill(self) -> bool:
        """Start the next schedule; False when no backend is eligible."""
        if not self._eligible:
            return False
        if self._stale:
            start = [self._current[i] for i in self._eligible]
        elif self._periodic:
            self._pos = 0
            return True
        else:
            start = self._end
        steps = self._total if self._total <= SCHEDULE_CAP else BLOCK
        local, end = swrr_passes(start, self._weights, steps)
        eligible = self._eligible
        self._start, self._end = start, end
        self._local = local
        self._schedule = [eligible[i] for i in local]
        self._periodic = steps == self._total and end == start
        self._pos = 0
        self._stale = False
        return True

    def pick(self, request: Request) -> int | None:
        if self._direct or request.tried:
            self._drop_schedule()
            host = self._peers.select(untried(self._eligible, request.tried))
            self._direct = self._peers.recovering(self._eligible)
            return host
        pos = self._pos
        if pos >= len(self._schedule):
            if not self._refill():
                return None
            pos = 0
        self._pos = pos + 1
        return self._schedule[pos]
