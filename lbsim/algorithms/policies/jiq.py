"""Join-idle-queue (Lu, Xie, Kliot, Geller, Larus, Greenberg, Performance
Evaluation 68(11), 2011, "Join-Idle-Queue: A novel load balancing algorithm
for dynamically scalable web services").

Each balancer instance is a dispatcher with an I-queue of idle servers.

* A server that becomes idle joins one I-queue, unless it is in one already
  (each server is in at most one): a uniformly random dispatcher's
  (``join: random``, JIQ-Random) or the shortest I-queue (``join: shortest``,
  JIQ-SQ; ties: the lowest instance). At the start every server is idle and
  joins one; so does one that becomes available again while idle.
* A dispatcher sends a request to the first server of its I-queue (FIFO)
  and removes it; if its I-queue is empty, to a uniformly random server
  (``int(u · n)`` over the available ones). A server in an I-queue may still
  receive requests from other dispatchers' random fallback; it stays listed
  (as in the paper) and, when taken, is simply busy for a while.

"Becomes idle" is the server's own report, read here when an attempt on it
completes: ``HostSet.true_load(host) == 0`` (its queue is empty and no
worker busy). Idleness after work nobody waits for (an abandoned attempt, a
health probe) is not reported: the balancer hears no completion. I-queue
entries for hosts no longer available are dropped when they surface, and a
retry passes over the hosts already tried (they stay listed). Weights are
ignored. O(1) per pick and per report.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Literal

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.algorithms.draws import Uniforms
from lbsim.algorithms.policies import Peered

if TYPE_CHECKING:
    import numpy as np


class JoinIdleQueueParams(Params):
    """``join``: which I-queue an idle server joins (JIQ-Random or JIQ-SQ)."""

    join: Literal["random", "shortest"] = "random"


class JoinIdleQueue(Peered, BaseAlgorithm):
    """Join-idle-queue: idle servers report to one dispatcher's I-queue; else random."""

    name: ClassVar[str] = "jiq"
    Params = JoinIdleQueueParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, JoinIdleQueueParams)
        if backends.true_load is None:
            raise ValueError("jiq needs the servers' idle reports (HostSet.true_load)")
        self._true_load = backends.true_load
        self._shortest = params.join == "shortest"
        self._uniforms = Uniforms(rng)
        self.iqueue: deque[int] = deque()
        self.peers: Sequence[JoinIdleQueue] = [self]
        self.listed = [False] * len(backends)  # shared with the peers: in some I-queue
        self.hosts_changed()
        self._join_idle()

    def join_peers(self, peers: Sequence[Peered]) -> None:
        group = [peer for peer in peers if isinstance(peer, JoinIdleQueue)]
        listed = [False] * len(self.backends)
        for peer in group:
            peer.peers, peer.listed = group, listed
            peer.iqueue.clear()
        self._join_idle()

    def _join_idle(self) -> None:
        for host in range(len(self.backends)):
            self.report(host)

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._eligible = self.backends.eligible()
        for host in hosts:  # one that comes back idle reports it
            self.report(host)

    def report(self, host: int) -> None:
        """``host`` tells the dispatchers it is idle, if it is and is not listed."""
        if self.listed[host] or not self.backends.available[host] or self._true_load(host):
            return
        peers = self.peers
        if len(peers) == 1:
            target = self
        elif self._shortest:
            target = min(peers, key=lambda peer: len(peer.iqueue))
        else:
            target = peers[int(self._uniforms.next() * len(peers))]
        target.iqueue.append(host)
        self.listed[host] = True

    def pick(self, request: Request) -> int | None:
        tried = request.tried
        iqueue, available = self.iqueue, self.backends.available
        passed = []
        chosen = None
        while iqueue:
            host = iqueue.popleft()
            if not available[host]:
                self.listed[host] = False
            elif host in tried:
                passed.append(host)
            else:
                self.listed[host] = False
                chosen = host
                break
        iqueue.extendleft(reversed(passed))
        if chosen is not None:
            return chosen
        hosts = [i for i in self._eligible if i not in tried] if tried else self._eligible
        return hosts[int(self._uniforms.next() * len(hosts))] if hosts else None

    def on_complete(self, host: int, latency: float, status: int) -> None:
        self.report(host)
