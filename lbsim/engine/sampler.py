"""Level sampling at a cost that does not grow with the cluster.

A sample records, per server, the :data:`~lbsim.engine.records.LEVELS`
(queue, in service, outstanding at the balancers, balancers that see it
healthy, up) and, per balancer instance, its view. Reading every server's
attributes at every sample costs O(servers) Python-level work, which at
10,000 servers took most of a run; here the levels are kept in arrays and
only what changed since the last sample is read again:

* a server marks itself when its queue, workers or state change, or when a
  balancer's count of it changes (:meth:`Server.touch`, inlined on the hot
  path: one attribute test per event), and is listed once in ``changed``;
* a balancer sets ``availability_changed`` whenever it refreshes which
  backends may be picked; only then is its row of availability read again.

A sample then costs Python-level work in the servers that changed (at most
one per event since the last sample) plus vectorised numpy copies and sums
of the arrays (memory bandwidth, not interpreter time). :func:`scan` is the
straightforward full read, kept as the reference the tests compare with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lbsim.engine.balancer import Balancer
from lbsim.engine.front import Front
from lbsim.engine.records import LEVELS
from lbsim.engine.servers import Server
from lbsim.scenario import Scenario

MIN_SAMPLES = 50  # level samples of a run, however big the cluster
READS_PER_REQUEST = 1  # requests per server read by the default level sampling


def sampling_period(scenario: Scenario, servers: int, requests: int) -> float:
    """The level sampling period: ``sample_interval`` if set, else
    ``scenario.sampling`` (500 samples) unless that makes more than about
    one server read per ``READS_PER_REQUEST`` requests: a sample reads
    the servers that changed since the last one, all of them once each
    server sees an event or two per period, so big clusters get
    ``requests / (servers * READS_PER_REQUEST)`` samples, at least
    ``MIN_SAMPLES`` (the time series' rows, samples x servers, stay below
    the number of requests too)."""
    if scenario.sample_interval is not None:
        return scenario.sampling
    samples = max(MIN_SAMPLES, requests // (max(servers, 1) * READS_PER_REQUEST))
    return max(scenario.sampling, scenario.duration / samples)


def drain_stretch(scenario: Scenario) -> float:
    """How many times longer the default sampling period is in the drain:
    a drain longer than the run is sampled no more often than the run
    was (``drain_time / duration``), so a short run with a long drain
    cannot take ``duration / 500`` samples for as long as the drain lasts.
    An explicit ``sample_interval`` holds throughout (1)."""
    if scenario.sample_interval is not None or scenario.duration <= 0:
        return 1.0
    return max(1.0, scenario.drain_time / scenario.duration)


class LevelSampler:
    """The levels of ``servers`` and the views of ``instances``, kept up to date
    from what changed (see module docstring)."""

    def __init__(
        self,
        servers: Sequence[Server],
        balancers: Sequence[Balancer],
        instances: Sequence[Sequence[Balancer]],
        fronts: Sequence[Front],
    ) -> None:
        self.servers = servers
        self.balancers = balancers
        self.instances = instances
        self.fronts = fronts
        n, b = len(servers), len(balancers)
        self.queue = np.zeros(n, dtype=np.int32)
        self.busy = np.zeros(n, dtype=np.int32)
        self.up = np.zeros(n, dtype=np.int32)
        self.outstanding = np.zeros((b, n), dtype=np.int32)  # per balancer
        self.available = np.zeros((b, n), dtype=np.int32)
        self.changed: list[Server] = list(servers)  # the first sample reads everything
        for server in servers:
            server.changed = self.changed
            server.dirty = True
        for balancer in balancers:
            balancer.availability_changed = True
        slot = {id(b): i for i, b in enumerate(balancers)}
        self._rows = [[slot[id(b)] for b in clusters] for clusters in instances]

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """The levels now, ``(len(LEVELS), servers)``, and the views,
        ``(instances, len(BALANCER_LEVELS))``, both int32."""
        changed, balancers = self.changed, self.balancers
        if changed:
            # list comprehensions (specialised attribute reads), then one
            # conversion each: cheaper per server than map(attrgetter)
            hosts = [server.index for server in changed]
            index = np.array(hosts, dtype=np.intp)
            self.queue[index] = [len(server.queue) for server in changed]
            self.busy[index] = [server.busy for server in changed]
            self.up[index] = [server.up for server in changed]
            for row, balancer in zip(self.outstanding, balancers, strict=True):
                counts = balancer.backends.outstanding
                row[index] = [counts[host] for host in hosts]
            for server in changed:
                server.dirty = False
            changed.clear()
        for row, balancer in zip(self.available, balancers, strict=True):
            if balancer.availability_changed:
                balancer.availability_changed = False
                row[:] = balancer.backends.available
        up = np.fromiter((b.up for b in balancers), bool, len(balancers))
        levels = np.empty((len(LEVELS), len(self.servers)), dtype=np.int32)
        levels[0] = self.queue
        levels[1] = self.busy
        levels[2] = self.outstanding.sum(axis=0)
        levels[3] = self.available[up].sum(axis=0) if up.any() else 0
        levels[4] = self.up
        in_rotation = self.available.sum(axis=1).tolist()
        outstanding = self.outstanding.sum(axis=1).tolist()
        views = np.array(
            [
                (
                    sum(in_rotation[row] for row in rows) if clusters[0].up else 0,
                    sum(outstanding[row] for row in rows),
                    clusters[0].up,
                    *_cpu_levels(self.fronts[index] if self.fronts else None),
                )
                for index, (clusters, rows) in enumerate(
                    zip(self.instances, self._rows, strict=True)
                )
            ],
            dtype=np.int32,
        )
        return levels, views


def scan(
    servers: Sequence[Server],
    balancers: Sequence[Balancer],
    instances: Sequence[Sequence[Balancer]],
    fronts: Sequence[Front],
) -> tuple[np.ndarray, np.ndarray]:
    """The same sample by reading everything (the reference for tests)."""
    n = len(servers)
    levels = np.empty((len(LEVELS), n), dtype=np.int32)
    levels[0] = [len(s.queue) for s in servers]
    levels[1] = [s.busy for s in servers]
    levels[2] = np.sum([b.backends.outstanding for b in balancers], axis=0)
    up = [b for b in balancers if b.up]
    levels[3] = np.sum([b.backends.available for b in up], axis=0) if up else 0
    levels[4] = [s.up for s in servers]
    views = np.array(
        [
            (
                sum(sum(b.backends.available) for b in clusters) if clusters[0].up else 0,
                sum(sum(b.backends.outstanding) for b in clusters),
                clusters[0].up,
                *_cpu_levels(fronts[index] if fronts else None),
            )
            for index, clusters in enumerate(instances)
        ],
        dtype=np.int32,
    )
    return levels, views


def _cpu_levels(front: Front | None) -> tuple[int, int]:
    """Cores busy and requests queued at an instance's CPU (0, 0 without one)."""
    station = front.station if front is not None else None
    return (station.busy, len(station.queue)) if station is not None else (0, 0)
