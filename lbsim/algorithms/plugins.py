"""Plug-in algorithms that are no :class:`~lbsim.algorithms.base.BaseAlgorithm`
but have some listener methods: subscribed to their host set for them."""

from __future__ import annotations

from collections.abc import Sequence

from lbsim.algorithms.base import Algorithm, BaseAlgorithm, HostListener, HostSet


class PluginListener(HostListener):
    """Forwards host-set changes to a plug-in that has some listener methods
    but does not derive from :class:`~lbsim.algorithms.base.BaseAlgorithm`."""

    def __init__(self, algorithm: Algorithm) -> None:
        self.algorithm = algorithm

    def hosts_added(self, hosts: Sequence[int]) -> None:
        getattr(self.algorithm, "hosts_added", _ignore)(hosts)

    def hosts_removed(self, hosts: Sequence[int]) -> None:
        getattr(self.algorithm, "hosts_removed", _ignore)(hosts)

    def hosts_changed(self, hosts: Sequence[int]) -> None:
        getattr(self.algorithm, "hosts_changed", _ignore)(hosts)


def _ignore(hosts: Sequence[int]) -> None:
    """A listener method the plug-in does not have."""


def subscribe_plugin(backends: HostSet, algorithm: Algorithm) -> None:
    """Subscribe a plug-in algorithm to its host set once, unless it did so
    itself (every :class:`BaseAlgorithm` does)."""
    if isinstance(algorithm, BaseAlgorithm) or any(
        listener is algorithm for listener in backends.listeners
    ):
        return
    if any(hasattr(algorithm, name) for name in ("hosts_added", "hosts_removed", "hosts_changed")):
        backends.subscribe(PluginListener(algorithm))
