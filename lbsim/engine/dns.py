"""Authoritative DNS with Route 53's routing policies and health checks.

:meth:`Authority.answer` gives the regions of one answer to a resolver of a
client location (one region, or up to 8 for multivalue). Records whose
region is unhealthy are skipped; when every record is unhealthy, Route 53
answers as if all were healthy (lb-semantics §2.5 [R4]):

* weighted: a record with probability ``weight / Σ weight`` over the
  healthy records of non-zero weight; zero-weight records only when no
  such record is left (then equally likely) [R1];
* latency: the healthy record of lowest mean RTT from the location
  (Route 53 measures latency over time, so the mean, not one draw) [R6];
* geolocation: the most specific healthy match (subdivision, country,
  continent, then the default record) [R2];
* failover: the primary while healthy, else the secondary [R2];
* multivalue: up to 8 healthy records in random order [R2].

Health: for each region with a record, ``checkers`` checkers probe every
``interval`` from a random phase (stream ``dns/checkers``); a checker
changes its verdict after ``failure_threshold`` consecutive contrary
results, and the region is healthy while more than 18% of the checkers say
so [R3]. A region is up while any of its balancer instances is up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lbsim.algorithms.draws import Uniforms
from lbsim.engine.loop import Loop
from lbsim.engine.records import Recorder
from lbsim.scenario.models.dns import (
    HEALTHY_SHARE,
    MULTIVALUE_ANSWERS,
    Dns,
    DnsHealthCheck,
    Record,
)
from lbsim.scenario.models.regions import Location
from lbsim.streams import stream


class Authority:
    """The service's DNS records, their health and the answers they give."""

    def __init__(
        self,
        env: Loop,
        dns: Dns,
        regions: Sequence[str],
        locations: Sequence[Location],
        mean_rtt: Sequence[Sequence[float]],  # [location][region]
        region_up: Callable[[int], bool],
        recorder: Recorder,
        seed: int,
        active: Callable[[], bool],
    ) -> None:
        self.env = env
        self.policy = dns.policy
        records = dns.records_of(list(regions))
        self.region = [regions.index(r.region) for r in records]
        self.weight = [r.weight for r in records]
        self.healthy = [True] * len(regions)  # per region, as the checkers see it
        self.names = regions
        self.recorder = recorder
        self._uniforms = Uniforms(stream(seed, "dns/answers"))
        # per location: the records in the policy's order of preference
        if dns.policy == "latency":
            self._order = [
                sorted(range(len(records)), key=[m[r] for r in self.region].__getitem__)
                for m in mean_rtt
            ]
        elif dns.policy == "geolocation":
            self._order = [_geo_order(records, loc) for loc in locations]
        elif dns.policy == "failover":
            primary = next(i for i, r in enumerate(records) if r.role == "primary")
            secondary = next(i for i, r in enumerate(records) if r.role == "secondary")
            self._order = [[primary, secondary]] * len(locations)
        if dns.health_check is not None:
            rng = stream(seed, "dns/checkers")
            for region in sorted(set(self.region)):
                _Checkers(self, region, dns.health_check, region_up, rng, active)

    def answer(self, location: int) -> list[int]:
        """The regions of one answer to a resolver of ``location``."""
        usable = [i for i, r in enumerate(self.region) if self.healthy[r]] or list(
            range(len(self.region))
        )
        if self.policy == "weighted":
            return [self.region[self._weighted(usable)]]
        if self.policy == "multivalue":
            draws = {i: self._uniforms.next() for i in usable}
            chosen = sorted(usable, key=draws.__getitem__)[:MULTIVALUE_ANSWERS]
            return [self.region[i] for i in chosen]
        order = self._order[location]
        fit = [i for i in order if self.healthy[self.region[i]]]
        return [self.region[fit[0] if fit else order[0]]]

    def _weighted(self, usable: list[int]) -> int:
        weighted = [i for i in usable if self.weight[i] > 0]
        u = self._uniforms.next()
        if not weighted:  # only zero weights left: equally likely
            return usable[int(u * len(usable))]
        total = sum(self.weight[i] for i in weighted)
        target = u * total
        for i in weighted:
            target -= self.weight[i]
            if target < 0:
                return i
        return weighted[-1]

    def set_healthy(self, region: int, healthy: bool) -> None:
        self.healthy[region] = healthy
        kind = "dns_healthy" if healthy else "dns_unhealthy"
        self.recorder.log(self.env._now, kind, self.names[region])


def _geo_order(records: Sequence[Record], loc: Location) -> list[int]:
    """Indices of the geolocation records matching ``loc``, most specific first."""
    ranked = [(rank, i) for i, r in enumerate(records) if (rank := r.geo_rank(loc)) is not None]
    return [i for _, i in sorted(ranked, key=lambda p: (-p[0], p[1]))]


class _Checkers:
    """The health checkers of one region (see the module docstring)."""

    def __init__(
        self,
        authority: Authority,
        region: int,
        check: DnsHealthCheck,
        region_up: Callable[[int], bool],
        rng: np.random.Generator,
        active: Callable[[], bool],
    ) -> None:
        self.authority = authority
        self.region = region
        self.check = check
        self.up = region_up
        self.active = active
        self.verdict = [True] * check.checkers
        self.streak = [0] * check.checkers
        env = authority.env
        phases = rng.random(check.checkers) * check.interval
        for k, phase in enumerate(phases.tolist()):
            env.after(phase, self._probe, k)

    def _probe(self, k: int) -> None:
        result = self.up(self.region)
        if result == self.verdict[k]:
            self.streak[k] = 0
        else:
            self.streak[k] += 1
            if self.streak[k] >= self.check.failure_threshold:
                self.verdict[k] = result
                self.streak[k] = 0
                healthy = sum(self.verdict) / len(self.verdict) > HEALTHY_SHARE
                if healthy != self.authority.healthy[self.region]:
                    self.authority.set_healthy(self.region, healthy)
        if self.active():
            self.authority.env.after(self.check.interval, self._probe, k)
