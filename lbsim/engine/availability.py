"""Which backends a balancer's algorithm may pick, and the events that change it.

Which backends the algorithm may pick is decided once per change, in this
order: primaries believed healthy, not ejected by passive checks and not
drained; if the healthy share of primaries is below ``panic_threshold``,
every primary not drained (Envoy's panic routing); if no primary is left,
the first healthy ``backup`` server (HAProxy; all of them with
``all_backups``, as HAProxy ``allbackups`` and NGINX do); if none, every
primary when ``fail_open`` (ALB); otherwise none, and requests fail with
``no_backend`` (503).

Health checks, passive checks, operators (drain, weights) and autoscaling
(register, deregister) tell the balancer through these methods; each change
recomputes the set (:meth:`Availability.refresh`) and hands it to the host
set the algorithm sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lbsim.algorithms import HostSet
from lbsim.engine.loop import Loop
from lbsim.engine.records import Recorder
from lbsim.engine.servers import Server


class Availability:
    """The availability state of a :class:`~lbsim.engine.balancer.Balancer`
    (its ``__init__`` sets these) and the changes to it."""

    env: Loop
    name: str
    backends: HostSet
    servers: list[Server]
    recorder: Recorder
    members: list[bool]
    registered: list[bool]
    backup: list[bool]
    healthy: list[bool]
    ejected: list[bool]
    draining: list[bool]
    weights: list[int]
    ramping: dict[int, float]
    panic_threshold: float
    panic: bool
    fail_open: bool
    all_backups: bool
    availability_changed: bool
    # a session's cookie to it is followed (SessionDriver._persist): kept by
    # refresh, so members, healthy, ejected and draining change only through it
    followable: list[bool]
    recovery_listeners: list[Callable[[int], None]]

    def refresh(self) -> None:
        """Recompute which backends may be picked (see module docstring)."""
        members = [m and r for m, r in zip(self.members, self.registered, strict=True)]
        primaries = [i for i, b in enumerate(self.backup) if not b and members[i]]
        fit = [h and not e for h, e in zip(self.healthy, self.ejected, strict=True)]
        self.followable = [
            m and f and not d for m, f, d in zip(self.members, fit, self.draining, strict=True)
        ]
        usable = [i for i in primaries if fit[i] and not self.draining[i]]
        healthy_share = sum(fit[i] for i in primaries) / max(len(primaries), 1)
        panic = self.panic_threshold > 0 and healthy_share < self.panic_threshold
        if panic != self.panic:
            self.panic = panic
            self.recorder.log(self.env._now, "panic" if panic else "panic_over", self.name)
        if panic:
            usable = [i for i in primaries if not self.draining[i]]
        if not usable:
            usable = [
                i
                for i, b in enumerate(self.backup)
                if b and members[i] and fit[i] and not self.draining[i]
            ]
            if not self.all_backups:
                usable = usable[:1]  # HAProxy: the first backup only, unless allbackups
        if not usable and self.fail_open:
            usable = [i for i in primaries if not self.draining[i]]
        allowed = set(usable)
        self.backends.update([i in allowed for i in range(len(self.servers))])
        self.availability_changed = True

    def start_unregistered(self, backends: Sequence[int]) -> None:
        """Hosts preallocated for autoscaling but not running at the start."""
        for backend in backends:
            self.registered[backend] = False
            self.backends.members[backend] = False
        self.refresh()

    def register(self, backend: int, healthy: bool) -> None:
        """An autoscaled instance joins (``healthy``: what its health checks
        believe at first); slow start begins once it is healthy."""
        self.registered[backend] = True
        self.healthy[backend] = healthy
        self.backends.add([backend])
        self.refresh()
        if healthy:
            for listener in self.recovery_listeners:
                listener(backend)

    def deregister(self, backend: int) -> None:
        """Stop sending ``backend`` new requests; those in flight finish."""
        self.registered[backend] = False
        self.refresh()

    def release(self, backend: int) -> None:
        """A deregistered instance is gone: it leaves the host set."""
        self.backends.remove([backend])

    def set_initial_health(self, healthy: Sequence[bool]) -> None:
        """What the health checks believe before their first probe: one refresh
        for all backends (no recovery to announce)."""
        self.healthy[:] = healthy
        self.refresh()

    def set_health(self, backend: int, healthy: bool) -> None:
        came_back = healthy and not self.healthy[backend]
        self.healthy[backend] = healthy
        self.refresh()
        if came_back:
            for listener in self.recovery_listeners:
                listener(backend)

    def set_ejected(self, backend: int, ejected: bool) -> None:
        self.ejected[backend] = ejected
        self.refresh()

    def set_draining(self, backend: int, draining: bool) -> None:
        self.draining[backend] = draining
        self.refresh()

    def set_weight(self, backend: int, weight: int) -> None:
        """A new configured weight; it applies now unless slow start is ramping."""
        self.weights[backend] = weight
        if backend not in self.ramping:
            self.backends.set_weights({backend: weight * self.backends.weight_scale})
