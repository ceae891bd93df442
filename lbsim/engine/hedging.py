"""Hedged requests at run time: send the backup if still needed, cancel the loser.

Dean & Barroso ("The Tail at Scale", CACM 2013): "issue the same request to
multiple replicas and use the results from whichever replica responds
first ... defer sending a secondary request until the first request has
been outstanding for more than the 95th-percentile expected latency",
cancelling the outstanding copy once one answers. Each request's calls
come from :func:`lbsim.engine.patterns.expand`: a first call at the
request's arrival and a backup due ``after`` later. :class:`Hedging` sends
a backup only if its first call has no final answer yet and one more backup
keeps the backups within ``max_extra`` × the requests so far: after n
requests at most ⌊max_extra · n⌋ backups, never more.
:class:`HedgingBalancer` notices the first ``ok`` answer of a pair and
cancels the other call: out of its server's queue, or its service cut
short (the worker is freed; the work done so far stays counted as busy
time), and its outstanding count at the balancer released as for an
abandoned attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lbsim.engine.balancer import PENDING, Balancer
from lbsim.engine.records import OK, TIMEOUT, Column, column
from lbsim.engine.servers import ATTEMPT_BITS
from lbsim.engine.state import RequestState
from lbsim.scenario.models import Hedge


class HedgingBalancer(Balancer):
    """A :class:`Balancer` that cancels the sibling of a call answered ``ok``."""

    siblings: Column  # set by Hedging: the other call of each call's pair
    balancers: Sequence[HedgingBalancer]  # every instance, by index
    route: Column  # the instance each call went through

    def complete(self, job: int, backend: int, status: int) -> None:
        call = job >> ATTEMPT_BITS
        pending = self._status[call] == PENDING
        super().complete(job, backend, status)
        if pending and self._status[call] == OK:
            sibling = self.siblings[call]
            self.balancers[self.route[sibling]].cancel(sibling)

    def cancel(self, call: int) -> None:
        """Stop ``call``: no answer is awaited any more, and its server drops it."""
        if self._status[call] != PENDING:
            return
        if self._inflight[call]:
            backend = self._server[call]
            self._abandon(call)
            self.servers[backend].cancel(call << ATTEMPT_BITS | self._tries[call])
        self._finish(call, TIMEOUT)  # recorded as the loser; never a request's record


class Hedging:
    """Sends each backup call only when it is still needed and allowed."""

    def __init__(
        self,
        hedge: Hedge,
        backup: np.ndarray,
        sibling: np.ndarray,
        state: RequestState,
        balancers: Sequence[HedgingBalancer],
        route: Column,
        send: Callable[[int], None],
    ) -> None:
        self.max_extra = hedge.max_extra
        self.send = send
        self.first_calls = 0
        self.backups = 0
        self.dispatched = np.zeros(len(backup), dtype=bool)
        self._backup = column(backup.astype(np.uint8))
        self._sibling = column(sibling)
        self._status = column(state.status)
        for balancer in balancers:
            balancer.siblings = self._sibling
            balancer.balancers = balancers
            balancer.route = route

    def arrive(self, call: int) -> None:
        if not self._backup[call]:
            self.first_calls += 1
        elif (
            self._status[self._sibling[call]] != PENDING
            or self.backups + 1 > self.max_extra * self.first_calls
        ):
            return
        else:
            self.backups += 1
        self.dispatched[call] = True
        self.send(call)
