"""``info_delay``: a load-aware policy that sees stale load counts.

Real balancers often decide on load information that is not current: a
control plane publishes server loads every few seconds, a DNS or anycast
tier refreshes its view periodically, a sidecar shares counts between
workers. With ``info_delay: N`` the policy is given a copy of the host set
whose outstanding counts (and, for ``jsq_oracle``, true loads) are a
snapshot taken every N seconds of simulated time, at t = N, 2N, ... (zero
before the first). Between snapshots every pick sees the same counts, so
requests herd onto the hosts that looked least loaded (Mitzenmacher, "How
Useful Is Old Information?", IEEE TPDS 2000). Availability and weights are
current: every change of the real host set is mirrored at once.

At each snapshot the policy is told, through ``hosts_changed``, which hosts'
counts changed, so policies that keep hosts ordered by load (least
connections) re-sort them; Envoy's least request with unequal weights
rebuilds its EDF schedule then (a fresh schedule, as on any host change).
Latencies (peak EWMA, least response time) are the balancer's own
measurements and are not delayed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model

from lbsim.algorithms import base
from lbsim.algorithms.base import Algorithm, HostListener, HostSet, Request
from lbsim.algorithms.policies import Clocked, Periodic

if TYPE_CHECKING:
    import numpy as np


class InfoDelay(base.Params):
    info_delay: float | None = Field(
        default=None,
        ge=0.001,
        description="seconds; the policy sees load counts as snapshots refreshed this often "
        "(none: current counts)",
    )


def _no_time() -> float:
    return 0.0


class Delayed(HostListener, Clocked, Periodic):
    """Runs ``inner`` on a host set whose load counts are refreshed every ``period``."""

    def __init__(self, real: HostSet, build: Callable[[HostSet], Algorithm], period: float):
        self.backends = real
        self.period = period
        self._true = [0] * len(real)
        self.stale = HostSet(
            list(real.names),
            list(real.weights),
            true_load=self._true.__getitem__ if real.true_load is not None else None,
        )
        self._mirror()
        self.inner = build(self.stale)
        real.subscribe(self)

    @property
    def clock(self) -> Callable[[], float]:
        """The inner policy's clock (it is the one that reads the time)."""
        return self.inner.clock if isinstance(self.inner, Clocked) else _no_time

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        if isinstance(self.inner, Clocked):
            self.inner.clock = clock

    def _mirror(self) -> None:
        real, stale = self.backends, self.stale
        stale.available[:] = real.available
        stale.members[:] = real.members
        stale.weights[:] = real.weights
        stale.weight_scale = real.weight_scale

    def hosts_added(self, hosts: Sequence[int]) -> None:
        self._mirror()
        for listener in self.stale.listeners:
            listener.hosts_added(hosts)

    def hosts_removed(self, hosts: Sequence[int]) -> None:
        self._mirror()
        for listener in self.stale.listeners:
            listener.hosts_removed(hosts)

    def hosts_changed(self, hosts: Sequence[int]) -> None:
        self._mirror()
        for listener in self.stale.listeners:
            listener.hosts_changed(hosts)

    def tick(self) -> None:
        """Take the snapshot; tell the policy whose counts changed."""
        real, stale = self.backends, self.stale
        changed = [i for i, n in enumerate(real.outstanding) if stale.outstanding[i] != n]
        stale.outstanding[:] = real.outstanding
        if real.true_load is not None:
            true = [real.true_load(i) for i in range(len(real))]
            changed = sorted(set(changed) | {i for i, n in enumerate(true) if self._true[i] != n})
            self._true[:] = true
        if changed:
            for listener in stale.listeners:
                listener.hosts_changed(changed)

    def pick(self, request: Request) -> int | None:
        return self.inner.pick(request)

    def on_send(self, host: int) -> None:
        self.inner.on_send(host)

    def on_complete(self, host: int, latency: float, status: int) -> None:
        self.inner.on_complete(host, latency, status)


class WithInfoDelay:
    """A registry factory: ``factory``, on stale counts when ``info_delay`` is set."""

    def __init__(self, factory: Any, params: type[base.Params]) -> None:
        self.factory = factory
        self.inner_params = params
        self.Params = (
            InfoDelay
            if params is base.Params
            else create_model(f"{params.__name__}WithInfoDelay", __base__=(params, InfoDelay))
        )
        self.__doc__ = factory.__doc__

    def __call__(
        self, backends: HostSet, rng: np.random.Generator, params: base.Params
    ) -> Algorithm:
        assert isinstance(params, InfoDelay)
        inner = self.inner_params(**params.model_dump(exclude={"info_delay"}))
        if params.info_delay is None:
            return self.factory(backends, rng, inner)
        return Delayed(backends, lambda hosts: self.factory(hosts, rng, inner), params.info_delay)
