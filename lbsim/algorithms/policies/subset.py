"""``subset:``: each balancer instance talks to a subset of the hosts.

Large fleets bound the connections of each client (here: each balancer
instance) by giving it a subset of the backends ("Site Reliability
Engineering", ch. 20, "Load Balancing in the Datacenter"):

* ``deterministic`` — Google's deterministic subsetting: with ``n`` hosts and
  subsets of ``size``, ``subset_count = n // size``; instance ``c`` is in
  round ``c // subset_count``, whose hosts are shuffled by a generator seeded
  with the round number (the same shuffle for every instance of the round),
  and takes the ``c % subset_count``-th slice of ``size`` hosts. The
  instances of a round cover ``subset_count · size`` hosts exactly once
  each. The book seeds its language's ``random``; lbsim seeds
  ``numpy.random.default_rng(round)`` and takes its ``permutation(n)``.
* ``random`` — ``size`` hosts drawn without replacement from the instance's
  own stream (the book's counter-example: uneven load across hosts).
* ``aperture`` — Finagle's deterministic aperture (``ProcessCoordinate``,
  ``Ring``): instances and hosts share a unit ring; instance ``c`` of ``N``
  has the window ``[c/N, c/N + width)`` (wrapping), ``width = max(1/N,
  size/n)``, host ``j`` the slice ``[j/n, (j+1)/n)``, and the instance uses
  every host whose slice overlaps its window (so neighbouring instances
  share edge hosts and every host is in some window). Finagle also weights
  its picks by the overlap (a uniform point in the window); here a partly
  covered host counts fully and the instance's own policy picks among them.

A ``size`` of ``n`` or more gives every host. The instance's policy runs on
a view of the host set in which the hosts outside its subset are never
available; load counts are the instance's own (shared, not copied). A
plug-in that does not subscribe itself to its host set hears no changes of
the view.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from lbsim.algorithms.base import Algorithm, HostListener, HostSet, Request

if TYPE_CHECKING:
    import numpy as np


def deterministic_subset(n: int, client: int, size: int) -> list[int]:
    """The hosts of instance ``client`` under deterministic subsetting."""
    if size >= n:
        return list(range(n))
    import numpy as np

    subset_count = n // size
    shuffled = np.random.default_rng(client // subset_count).permutation(n).tolist()
    start = (client % subset_count) * size
    return sorted(shuffled[start : start + size])


def aperture_subset(n: int, client: int, clients: int, size: int) -> list[int]:
    """The hosts whose ring slice overlaps instance ``client``'s window (exact fractions)."""
    width = max(Fraction(1, clients), Fraction(size, n))
    if width >= 1:
        return list(range(n))
    start = Fraction(client, clients)
    windows = [(start, min(start + width, Fraction(1)))]
    if start + width > 1:
        windows.append((Fraction(0), start + width - 1))
    return [
        j
        for j in range(n)
        if any(Fraction(j, n) < hi and Fraction(j + 1, n) > lo for lo, hi in windows)
    ]


def random_subset(n: int, size: int, rng: np.random.Generator) -> list[int]:
    """``size`` hosts drawn uniformly without replacement."""
    if size >= n:
        return list(range(n))
    return sorted(rng.choice(n, size=size, replace=False).tolist())


class Subsetted(HostListener):
    """Runs ``inner`` on a view where only ``hosts`` can be available."""

    def __init__(
        self, real: HostSet, hosts: Collection[int], build: Callable[[HostSet], Algorithm]
    ) -> None:
        self.backends = real
        chosen = set(hosts)
        self.allowed = [i in chosen for i in range(len(real))]
        self.view = HostSet(list(real.names), list(real.weights), true_load=real.true_load)
        self.view.outstanding = real.outstanding  # the instance's own counts, live
        self._mirror()
        self.inner = build(self.view)
        real.subscribe(self)

    def _mirror(self) -> None:
        real, view = self.backends, self.view
        view.available[:] = [a and b for a, b in zip(real.available, self.allowed, strict=True)]
        view.members[:] = real.members
        view.weights[:] = real.weights
        view.weight_scale = real.weight_scale

    def hosts_added(self, hosts: Sequence[int]) -> None:
        self._mirror()
        for listener in self.view.listeners:
            listener.hosts_added(hosts)

    def hosts_removed(self, hosts: Sequence[int]) -> None:
        self._mirror()
        for listener in self.view.listeners:
            listener.hosts_removed(hosts)

    def hosts_changed(self, hosts: Sequence[int]) -> None:
        self._mirror()
        for listener in self.view.listeners:
            listener.hosts_changed(hosts)

    def pick(self, request: Request) -> int | None:
        return self.inner.pick(request)

    def on_send(self, host: int) -> None:
        self.inner.on_send(host)

    def on_complete(self, host: int, latency: float, status: int) -> None:
        self.inner.on_complete(host, latency, status)
