"""Regions: clients resolve the service's name, cross the network, enter a region.

Built only for scenarios with ``regions:`` (a flat world never sees it).
Each client lives in a location (``clients.locations``, contiguous blocks
of client ids) and asks one of its location's resolvers (client id modulo
``dns.resolvers``). When a request arrives and the client's cached answer
has expired, the client asks its resolver, which answers from its cache
while the TTL lasts and otherwise asks the authority
(:class:`~lbsim.engine.dns.Authority`; an authoritative query, the ``dns``
column's 2; 1: the resolver's cache; 0: the client's own). A client keeps
the answer until the resolver's copy expires, or, for the ``stale`` share
of clients (drawn once per client, stream ``dns/stale``), for ``hold``
after it got it. From a multivalue answer the client takes one region at
random (stream ``dns/clients``).

The request then crosses the network: a round trip drawn from its
(location, region) pair's stream (``rtt/<location>/<region>``) passes
before it reaches one of the region's balancer instances (client id modulo
the region's instances: DNS round robin inside the region), so its latency
includes the round trip (``latency_network``); the client's timeout starts
at the balancer. A region fails as a whole (``{target: <region>, action:
crash}``): its balancer instances crash, requests sent there fail to
connect, and DNS notices only through its health checks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lbsim.algorithms.draws import Uniforms
from lbsim.engine.dns import Authority
from lbsim.engine.loop import Loop
from lbsim.engine.records import Column, Recorder, column
from lbsim.engine.sessions import _Draws
from lbsim.scenario import Scenario
from lbsim.scenario.models.dns import Dns
from lbsim.scenario.models.regions import client_locations
from lbsim.streams import stream

CLIENT_CACHE, RESOLVER_CACHE, QUERY = 0, 1, 2  # the ``dns`` column


def instance_regions(scenario: Scenario) -> list[int]:
    """Per balancer instance: the index of its region (empty without regions)."""
    return [r for r, region in enumerate(scenario.regions) for _ in range(region.instances)]


def instance_members(scenario: Scenario) -> list[list[bool] | None]:
    """Per balancer instance: which servers it may send to (None: all)."""
    if not scenario.regions:
        return [None] * scenario.balancer.instances
    masks = [
        [pool.name in region.servers for pool in scenario.servers for _ in range(pool.hosts)]
        for region in scenario.regions
    ]
    return [masks[r] for r in instance_regions(scenario)]


class Regional:
    """The client side of a world with regions (see the module docstring)."""

    def __init__(
        self,
        env: Loop,
        scenario: Scenario,
        clients: Column,
        reached: np.ndarray,
        recorder: Recorder,
        region_up: Callable[[int], bool],
        active: Callable[[], bool],
    ) -> None:
        self.env = env
        seed = scenario.seed
        dns = scenario.dns or Dns()
        names = [r.name for r in scenario.regions]
        locations = scenario.clients.locations
        assert scenario.network is not None
        rtt = scenario.network.rtt
        self._rtt = [
            [_Draws(rtt[loc.name][name], stream(seed, f"rtt/{loc.name}/{name}")) for name in names]
            for loc in locations
        ]
        mean_rtt = [[rtt[loc.name][name].mean for name in names] for loc in locations]
        self.authority = Authority(
            env, dns, names, locations, mean_rtt, region_up, recorder, seed, active
        )
        count = scenario.clients.count
        self._loc = client_locations(count, locations)
        self._resolver = [
            loc * dns.resolvers + c % dns.resolvers for c, loc in enumerate(self._loc)
        ]
        n_resolvers = len(locations) * dns.resolvers
        self._cached: list[list[int]] = [[] for _ in range(n_resolvers)]
        self._cached_until = [-np.inf] * n_resolvers
        self._region = [0] * count
        self._until = [-np.inf] * count
        stale = dns.stale
        draws = stream(seed, "dns/stale").random(count)
        self._stale = (draws < stale.share).tolist() if stale is not None else [False] * count
        self._hold = stale.hold if stale is not None else 0.0
        self._ttl = dns.ttl
        self._picks = Uniforms(stream(seed, "dns/clients"))
        first = np.cumsum([0] + [r.instances for r in scenario.regions]).tolist()
        self._first = first[:-1]
        self._instances = [r.instances for r in scenario.regions]
        self._clients = clients
        self._reached = column(reached)
        columns = recorder.columns
        self._instance = column(columns["balancer"])
        self._region_col = column(columns["region"])
        self._network = column(columns["latency_network"])
        self._dns = column(columns["dns"])
        self.enter: Callable[[int], None] = _nowhere  # the world's: to the request's instance

    def arrive(self, request: int) -> None:
        """A client sends ``request``: resolve if need be, then cross the network."""
        c = self._clients[request]
        now = self.env._now
        if now >= self._until[c]:
            self._dns[request] = self._resolve(c, now)
        region = self._region[c]
        loc = self._loc[c]
        self._region_col[request] = region
        self._instance[request] = self._first[region] + c % self._instances[region]
        rtt = self._rtt[loc][region].next()
        self._network[request] = rtt
        self._reached[request] = now + rtt
        self.env.after(rtt, self.enter, request)

    def _resolve(self, c: int, now: float) -> int:
        """Client ``c``'s answer expired: ask its resolver; which cache answered."""
        resolver = self._resolver[c]
        kind = RESOLVER_CACHE
        if now >= self._cached_until[resolver]:
            self._cached[resolver] = self.authority.answer(self._loc[c])
            self._cached_until[resolver] = now + self._ttl
            kind = QUERY
        answer = self._cached[resolver]
        pick = int(self._picks.next() * len(answer)) if len(answer) > 1 else 0
        self._region[c] = answer[pick]
        until = self._cached_until[resolver]
        self._until[c] = max(until, now + self._hold) if self._stale[c] else until
        return kind

    def instances_of(self, region: int) -> range:
        """The balancer instances of ``region``."""
        return range(self._first[region], self._first[region] + self._instances[region])


def _nowhere(request: int) -> None:
    raise AssertionError("Regional.enter was not set by the world")
