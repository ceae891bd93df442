"""Least response time, as NGINX ``least_time last_byte`` does it.

NGINX (``ngx_http_upstream_least_time_module.c``, open source since 1.31.0)
keeps per peer the moving average of its response time in whole
milliseconds, ``avg = (ngx_msec_t) (0.05 · v + 0.95 · avg + 0.5)``, a sample
being taken as is while the average is 0
(``ngx_http_upstream_response_time_avg``); only successful attempts enter it
(``free_least_time_peer``). A pick (``get_least_time_peer``) scans the
eligible untried peers in configuration order and estimates each one's time
(``ngx_http_upstream_least_time_eta``):

* ``rt`` = the average, shifted right once per ``fail_timeout + 1`` seconds
  elapsed since the peer's ``checked`` time when more than ``fail_timeout``
  have elapsed (idle halving, to give slow peers another chance);
* ``rt > 5000`` → 5000, else ``rt += 20 - rt % 20`` (the next 20 ms bucket,
  so an unmeasured peer counts as 20 ms);
* ``eta = rt × (1 + conns)``.

The peer with the smallest ``eta / weight`` wins, compared as ``eta ×
best.weight < best_eta × peer.weight``; if another ties with it, a smooth
weighted round-robin pass runs over the tied peers from the first of them
on. As in NGINX, that pass compares each peer with ``best_eta`` of the first
tied peer but the weight of the current leader, which differs from a plain
tie test only with unequal weights. The winner's ``checked`` becomes ``now``
if more than ``fail_timeout`` passed since; a failed attempt sets it too.

Here ``v`` is the latency of ``on_complete`` rounded to whole milliseconds,
``conns`` this balancer's own count of outstanding requests, "successful"
means status OK, and ``now`` is in whole seconds of a clock rebuilt from the
latencies, because the protocol carries no time. The clock never runs ahead
of simulated time: each completion moves it to at least ``(clock at the
earliest send still outstanding on that host) + latency``, a lower bound of
the completion time (the completed attempt was sent no earlier; the
matching send is then forgotten as the latest one, which keeps every later
bound valid). It lags simulated time by about the gap between a completion
and the next send along chains of requests, and it stands still while
nothing completes, so a quiet spell halves nothing until traffic resumes.
Not modelled: the ``inflight`` and ``header`` variants (latency is the whole
response), ``max_conns``, ``effective_weight`` lowering on failure (the
round-robin pass uses the weight). When every available peer was tried the
pick returns None. O(n) per pick, as in NGINX.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.status import OK

if TYPE_CHECKING:
    import numpy as np

RT_MAX = 5000  # ms: slower peers all count as equally bad
BUCKET = 20  # ms: response times are compared in 20 ms clusters


class LeastResponseTimeParams(Params):
    fail_timeout: int = Field(
        default=10,
        ge=0,
        description="seconds; the average halves per fail_timeout + 1 s a peer is idle (NGINX: 10)",
    )


class LeastResponseTime(BaseAlgorithm):
    """Least average latency (ms) × (1 + outstanding) / weight, 20 ms buckets (NGINX least_time)."""

    name: ClassVar[str] = "least_response_time"
    Params = LeastResponseTimeParams

    def __init__(self, backends: HostSet, rng: np.random.Generator, params: base.Params) -> None:
        super().__init__(backends, rng, params)
        assert isinstance(params, LeastResponseTimeParams)
        self._fail_timeout = params.fail_timeout
        n = len(backends)
        self.averages = [0] * n  # NGINX response_time, ms; 0 until a sample
        self.checked = [0] * n  # NGINX checked, whole seconds of the clock
        self.current = [0] * n  # NGINX current_weight, for ties
        self.clock = 0.0  # seconds, a lower bound of simulated time
        self._sends: list[list[float]] = [[] for _ in range(n)]  # clock at each send in flight
        self.hosts_changed()

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        self._eligible = self.backends.eligible()

    def eta(self, peer: int) -> int:
        """NGINX's estimated time of ``peer``, in ms (``least_time_eta``)."""
        return self.etas([peer])[0]

    def etas(self, peers: Sequence[int]) -> list[int]:
        """:meth:`eta` of each of ``peers``."""
        now, fail_timeout = int(self.clock), self._fail_timeout
        averages, checked, outstanding = self.averages, self.checked, self.backends.outstanding
        result = []
        for peer in peers:
            rt = averages[peer]
            elapsed = now - checked[peer]
            if elapsed > fail_timeout:
                shift = elapsed // (fail_timeout + 1)
                rt = rt >> shift if shift < 64 else 0
            rt = RT_MAX if rt > RT_MAX else rt + BUCKET - rt % BUCKET
            result.append(rt * (1 + outstanding[peer]))
        return result

    def pick(self, request: Request) -> int | None:
        tried = request.tried
        peers = [i for i in self._eligible if i not in tried] if tried else self._eligible
        weights = self.backends.weights
        etas = self.etas(peers)
        best, best_eta, many, first = -1, 0, False, 0
        for k, peer in enumerate(peers):
            e = etas[k]
            if best < 0 or e * weights[best] < best_eta * weights[peer]:
                best, best_eta, many, first = peer, e, False, k
            elif e * weights[best] == best_eta * weights[peer]:
                many = True
        if best < 0:
            return None
        if many:
            current, total = self.current, 0
            for peer, e in zip(peers[first:], etas[first:], strict=True):
                if e * weights[best] != best_eta * weights[peer]:
                    continue
                current[peer] += weights[peer]
                total += weights[peer]
                if current[peer] > current[best]:
                    best = peer
            current[best] -= total
        now = int(self.clock)
        if now - self.checked[best] > self._fail_timeout:
            self.checked[best] = now
        return best

    def on_send(self, host: int) -> None:
        self._sends[host].append(self.clock)

    def on_complete(self, host: int, latency: float, status: int) -> None:
        sends = self._sends[host]
        if sends:
            self.clock = max(self.clock, sends[0] + latency)
            sends.pop()
        if status != OK:
            self.checked[host] = int(self.clock)
            return
        v = round(latency * 1000)
        average = self.averages[host]
        self.averages[host] = int(0.05 * v + 0.95 * average + 0.5) if average else v
