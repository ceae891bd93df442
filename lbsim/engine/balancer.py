"""The load balancer: picks a backend for each attempt, forwards it, and
handles what comes back — timeouts and retries included.

It knows only what a real balancer knows: its own outstanding requests per
backend, the latencies it observed, configured weights, what its health
checks told it, and which backends an operator drained (the
:class:`~lbsim.algorithms.HostSet` view it shares with its algorithm). It
never reads a server's queue. With several instances, each has its own view.

Which backends the algorithm may pick is decided once per change
(:class:`~lbsim.engine.availability.Availability`, which it inherits).

A request's life: attempt 0 is sent (to its persisted backend when a
session hook says so); a failure whose outcome is in ``retries.retry_on`` is
retried after the configured back-off (:mod:`lbsim.engine.backoff`) while
retries (and the retry budget) last; a per-try timeout abandons the attempt
(the server still does the work: wasted), an overall timeout ends the
request. An attempt is a job ``request << ATTEMPT_BITS | attempt`` so a late
answer to an abandoned attempt is recognised and ignored.

Each pick gets the balancer's one reusable :class:`~lbsim.algorithms.RequestView`,
filled with the request's client, attempt and ``tried``: the hosts of its
earlier attempts (a shared empty tuple on attempt 0; a set kept only for
requests that retry, dropped when they finish).

The run loop (:mod:`lbsim.engine.hotpath`) writes out the common case of
:meth:`Balancer.dispatch` (a first attempt) and :meth:`Balancer.complete`
(an answer): a change to their rules must be made there too
(tests/engine/test_hotpath.py compares the two).

Other components hear of what happens through listener lists, any number
each: ``outcome_listeners`` get ``(backend, status)`` for every attempt that
ends (passive checks), ``recovery_listeners`` get a backend marked healthy
again (slow start). Configured weights live in ``weights``; a backend in
``ramping`` (slow start) keeps the weight its ramp gives it, and every weight
sent to the host set is multiplied by the host set's ``weight_scale``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from lbsim.algorithms import Algorithm, HostSet, RequestView
from lbsim.algorithms.base import BaseAlgorithm
from lbsim.algorithms.draws import Uniforms
from lbsim.engine.availability import Availability
from lbsim.engine.backoff import Backoffs
from lbsim.engine.loop import Loop, Timers
from lbsim.engine.records import (
    CONN_ERROR,
    INCOMPLETE,
    NO_BACKEND,
    OK,
    STATUSES,
    TIMEOUT,
    Column,
    Recorder,
    column,
)
from lbsim.engine.servers import ATTEMPT_BITS, ATTEMPT_MASK, Server
from lbsim.engine.state import RequestState, Totals
from lbsim.scenario import Clients

PENDING = INCOMPLETE  # a request without a final status yet
NOTHING_TRIED: tuple[int, ...] = ()  # ``tried`` of every first attempt (no allocation)


class Balancer(Availability):
    """One balancer instance in front of ``servers``."""

    def __init__(
        self,
        env: Loop,
        index: int,
        backends: HostSet,
        algorithm: Algorithm,
        servers: list[Server],
        *,
        backup: list[bool],
        panic_threshold: float,
        fail_open: bool,
        all_backups: bool,
        connect_timeout: float,
        clients: Clients,
        recorder: Recorder,
        state: RequestState,
        keys: Column,
        client_ids: Column,
        rng: np.random.Generator,
        totals: Totals | None = None,
        members: Sequence[bool] | None = None,
    ) -> None:
        self.env = env
        self.index = index
        self.slot = index  # position among the world's balancers (routes: one per cluster)
        # the hosts of its cluster (a route's pool); the others are never picked
        self.members = list(members) if members is not None else [True] * len(servers)
        self.name = f"lb-{index}"
        self.backends = backends
        self.algorithm = algorithm
        self.servers = servers
        self.backup = backup
        self.panic_threshold = panic_threshold
        self.fail_open = fail_open
        self.all_backups = all_backups
        self.weights = list(backends.weights)  # configured (``set_weight`` on the timeline)
        self.ramping: dict[int, float] = {}  # backend -> when slow start began ramping it
        self.connect_timeout = connect_timeout
        self.healthy = [True] * len(servers)
        self.draining = [False] * len(servers)
        self.registered = [True] * len(servers)  # False: not provisioned (autoscaling)
        self.panic = False
        self.up = True
        self.recorder = recorder
        self.outcome_listeners: list[Callable[[int, int], None]] = []  # (backend, status)
        self.recovery_listeners: list[Callable[[int], None]] = []  # (backend)
        self.ejected = [False] * len(servers)
        self._keys = keys
        self._client_ids = client_ids
        self._tried: dict[int, set[int]] = {}  # only requests that retry
        # attempts in flight per backend: the host set's ``outstanding`` itself,
        # unless the load an algorithm sees is connections (layer 4)
        self._load = backends.outstanding
        self._totals = totals if totals is not None else Totals()
        self._server = column(state.server)
        self._status = column(state.status)
        self._sent = column(state.sent)
        self._tries = column(state.attempt)
        self._inflight = state.inflight
        self._start = column(recorder.start)
        self._end = column(recorder.end)
        self._backoff = column(recorder.columns["latency_backoff"])
        self._timeout = clients.timeout
        self._per_try = clients.per_try_timeout
        # timer lists: each kind of timeout has one delay, so deadlines come in send order
        self._expiries = Timers(env, self._timeout or 0.0, self._expired, self._prune_ended)
        self._try_expiries = Timers(
            env, self._per_try or 0.0, self._try_expired, self._prune_answered
        )
        self._retry = clients.retries
        self._retry_on = {STATUSES.index(s) for s in (self._retry.retry_on if self._retry else ())}
        # the first attempt number that is balanced anew rather than resent
        # to the same server (attempt numbers stop below 1 << ATTEMPT_BITS: never)
        redispatch = True if self._retry is None else self._retry.redispatch
        if redispatch is True:
            self._redispatch_from = 1
        elif redispatch == "last" and self._retry is not None:
            self._redispatch_from = self._retry.max
        else:
            self._redispatch_from = 1 << ATTEMPT_BITS
        self._uniforms = Uniforms(rng)
        self._backoffs = Backoffs(self._retry.backoff, self._uniforms) if self._retry else None
        self._view = RequestView()
        self.active_retries = 0
        self.traffic_seen = False  # Envoy health checks slow down until traffic
        self.availability_changed = True  # set by each refresh, cleared by level sampling
        self._watches: dict[float, Timers] = {}  # per timeout: requests watched from arrival
        # session hooks (lbsim.engine.sessions): the persisted backend of a
        # first attempt, or None to balance; told of every request that ends
        self.persist: Callable[[int], int | None] | None = None
        self.finished: Callable[[int], None] | None = None
        self.refresh()

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @algorithm.setter
    def algorithm(self, algorithm: Algorithm) -> None:
        self._algorithm = algorithm
        self._pick = algorithm.pick
        self._on_send = _hook(algorithm, "on_send")  # None: BaseAlgorithm's no-op, skipped
        self._on_complete = _hook(algorithm, "on_complete")

    # ------------------------------------------------------------ requests

    def watch(self, request: int, timeout: float) -> None:
        """Start ``request``'s overall timeout now, at its arrival (a front
        does, before the balancer CPU); :meth:`dispatch` then starts none."""
        self._timeout = None
        timers = self._watches.get(timeout)
        if timers is None:
            timers = Timers(self.env, timeout, self._expired, self._prune_ended)
            self._watches[timeout] = timers
        timers.add(request)

    def dispatch(self, request: int) -> None:
        """Send the current attempt of ``request`` to a backend."""
        attempt = self._tries[request]
        if attempt == 0 and self._timeout is not None:
            self._expiries.add(request)
        if not self.up:
            self.env.after(self.connect_timeout, self._unreachable, request)
            return
        backend: int | None
        if (
            attempt == 0
            and self.persist is not None
            and (backend := self.persist(request)) is not None
        ):
            pass  # persistence overrides balance (HAProxy); a redispatched retry breaks it
        elif attempt == 0 or attempt >= self._redispatch_from or self._server[request] < 0:
            view = self._view
            view.hash_key = view.client_address = self._keys[request]
            view.client_id = self._client_ids[request]
            view.attempt = attempt
            view.tried = self._tried.get(request, NOTHING_TRIED) if attempt else NOTHING_TRIED
            backend = self._pick(view)
        else:
            backend = self._server[request]  # HAProxy without redispatch: same server
        if backend is None:
            self._failed(request, NO_BACKEND)
            return
        self._load[backend] += 1
        self._totals.outstanding += 1
        if self._on_send is not None:
            self._on_send(backend)
        self.traffic_seen = True
        self._server[request] = backend
        self._sent[request] = self.env._now
        if attempt:
            self._start[request] = math.nan  # the start of service of this attempt
        self._inflight[request] = 1
        job = request << ATTEMPT_BITS | attempt
        if self._per_try is not None:
            self._try_expiries.add(job)
        self.servers[backend].accept(job)

    def complete(self, job: int, backend: int, status: int) -> None:
        """The answer to attempt ``job`` came back from ``backend``."""
        request = job >> ATTEMPT_BITS
        if (job & ATTEMPT_MASK) != self._tries[request] or not self._inflight[request]:
            self.recorder.abandoned += 1  # an abandoned attempt: the work was wasted
            return
        self._inflight[request] = 0
        self._load[backend] -= 1
        self._totals.outstanding -= 1
        if self._on_complete is not None:
            self._on_complete(backend, self.env._now - self._sent[request], status)
        if self.outcome_listeners:
            for listener in self.outcome_listeners:
                listener(backend, status)
        if status == OK and not self._tries[request]:  # the common case of _finish, inlined
            self._end[request] = self.env._now
            self._status[request] = OK
            if self.finished is not None:
                self.finished(request)
        elif status == OK:
            self._finish(request, OK)
        else:
            self._failed(request, status)

    def _finish(self, request: int, status: int) -> None:
        if self._tries[request]:
            self.active_retries -= 1
            self._tried.pop(request, None)
            if self._backoffs is not None:
                self._backoffs.forget(request)
        self._end[request] = self.env._now
        self._status[request] = status
        if self.finished is not None:
            self.finished(request)

    def _failed(self, request: int, status: int) -> None:
        retry = self._retry
        if self._status[request] != PENDING:
            return
        attempt = self._tries[request]
        if (
            retry is not None
            and status in self._retry_on
            and attempt < retry.max
            and self.up
            and self._budget_allows(attempt)
        ):
            if attempt == 0:
                self.active_retries += 1
            backend = self._server[request]
            if backend >= 0:  # not when no backend was found
                tried = self._tried.get(request)
                if tried is None:
                    self._tried[request] = {backend}
                else:
                    tried.add(backend)
            self._tries[request] = attempt + 1
            self._totals.pending_retries += 1
            assert self._backoffs is not None
            delay = self._backoffs.delay(request, attempt)
            self._backoff[request] += delay
            self.env.after(delay, self._again, request)
        else:
            self._finish(request, status)

    def _budget_allows(self, attempt: int) -> bool:
        assert self._retry is not None
        budget = self._retry.budget
        if budget is None or attempt > 0:  # a retry in progress keeps its slot
            return True
        active = sum(self._load)
        return self.active_retries < max(budget.min_concurrency, budget.percent / 100 * active)

    def _again(self, request: int) -> None:
        self._totals.pending_retries -= 1
        if self._status[request] == PENDING:
            self.dispatch(request)

    def _abandon(self, request: int) -> None:
        """Stop waiting for the attempt in flight (the server keeps working)."""
        backend = self._server[request]
        self._inflight[request] = 0
        self._load[backend] -= 1
        self.servers[backend].touch()  # its outstanding count changed (level sampling)
        self._totals.outstanding -= 1
        if self._on_complete is not None:
            self._on_complete(backend, self.env._now - self._sent[request], TIMEOUT)

    def _try_expired(self, job: int) -> None:
        request = job >> ATTEMPT_BITS
        if (job & ATTEMPT_MASK) == self._tries[request] and self._inflight[request]:
            self._abandon(request)
            for listener in self.outcome_listeners:
                listener(self._server[request], TIMEOUT)
            self._failed(request, TIMEOUT)

    def _prune_ended(self, pending: Column, head: int, tail: int) -> int:
        """Skip overall deadlines of requests that already ended (all but the last)."""
        status, last = self._status, tail - 1
        while head < last and status[pending[head]] != PENDING:
            head += 1
        return head

    def _prune_answered(self, pending: Column, head: int, tail: int) -> int:
        """Skip per-try deadlines of attempts no longer awaited (all but the
        last): answered, abandoned or superseded — an attempt is sent once."""
        tries, inflight, last = self._tries, self._inflight, tail - 1
        while head < last:
            job = pending[head]
            request = job >> ATTEMPT_BITS
            if (job & ATTEMPT_MASK) == tries[request] and inflight[request]:
                break
            head += 1
        return head

    def _expired(self, request: int) -> None:
        if self._status[request] != PENDING:
            return
        if self._inflight[request]:
            self._abandon(request)
            for listener in self.outcome_listeners:
                listener(self._server[request], TIMEOUT)
        self._finish(request, TIMEOUT)

    def _unreachable(self, request: int) -> None:
        if self._status[request] == PENDING:
            self._finish(request, CONN_ERROR)

    # ------------------------------------------------------------ failures

    def crash(self, requests: np.ndarray) -> None:
        """This instance dies: connections through it (``requests``) reset,
        its view of the backends is lost."""
        self.up = False
        for request in requests.tolist():
            if self._status[request] == PENDING:
                self._inflight[request] = 0
                self._finish(request, CONN_ERROR)
        self._totals.outstanding -= sum(self._load)
        self._load[:] = [0] * len(self.servers)
        self.backends.outstanding[:] = [0] * len(self.servers)
        for server in self.servers:
            server.touch()
        everyone = range(len(self.servers))
        for listener in self.backends.listeners:
            listener.hosts_changed(everyone)

    def recover(self) -> None:
        self.up = True


def _hook(algorithm: Algorithm, name: str) -> Callable[..., None] | None:
    """``algorithm``'s bound hook ``name``, or None if it is :class:`BaseAlgorithm`'s no-op."""
    if getattr(type(algorithm), name, None) is getattr(BaseAlgorithm, name):
        return None
    hook: Callable[..., None] = getattr(algorithm, name)
    return hook
