"""Failures: the scripted timeline and random crash/repair of servers.

Timeline events (``events:`` in a scenario) act at a set time on one server
(crash, hang, slow, error_rate, recover) or on the balancer's treatment of it
(drain, undrain, set_weight); with ``for:`` they are undone after that long.
Random crashes alternate an up time drawn from ``mtbf`` and a down time from
``mttr``, each server from its own stream. Every transition is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from simpy import Environment
from simpy.events import Timeout

from lbsim.engine.balancer import Balancer
from lbsim.engine.records import Recorder
from lbsim.engine.servers import Server
from lbsim.scenario import Crashes, Scenario, TimelineEvent
from lbsim.scenario.dists import Distribution
from lbsim.streams import stream


class Faults:
    """Drives the failures of one world."""

    def __init__(
        self,
        env: Environment,
        scenario: Scenario,
        servers: list[Server],
        balancers: list[Balancer],
        recorder: Recorder,
        active: Callable[[], bool],
        on_balancer: Callable[[int, bool], None],
        on_pool: Callable[[TimelineEvent], None] | None = None,
        on_region: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.env = env
        self.active = active  # no new random crashes once the run has nothing left to do
        self.servers = {server.name: server for server in servers}
        self.balancers = balancers
        self.on_balancer = on_balancer  # (instance, up) -> None
        self.on_pool = on_pool  # a pool's ``shift``
        self.on_region = on_region  # (region, up) -> None: a whole region fails or recovers
        self.regions = {region.name for region in scenario.regions}
        self.recorder = recorder
        self.seed = scenario.seed
        for event in scenario.events:
            self._at(event.at, partial(self._apply, event))
            if event.for_ is not None:
                self._at(event.at + event.for_, partial(self._undo, event))
        index = 0
        for pool in scenario.servers:
            for i in range(pool.hosts):
                if pool.faults is not None and pool.faults.crash is not None:
                    self._crash_loop(servers[index + i], pool.faults.crash)
            index += pool.hosts

    def _at(self, time: float, action: Callable[[], None]) -> None:
        Timeout(self.env, max(time - self.env.now, 0.0)).callbacks.append(lambda _: action())

    def _log(self, kind: str, target: str, detail: str = "") -> None:
        self.recorder.log(self.env.now, kind, target, detail)

    def _apply(self, event: TimelineEvent) -> None:
        if event.action == "shift":
            assert self.on_pool is not None
            self.on_pool(event)
            return
        if event.target.startswith("lb-"):
            self.on_balancer(int(event.target[3:]), event.action == "recover")
            self._log(event.action, event.target)
            return
        if event.target in self.regions:
            assert self.on_region is not None
            self.on_region(event.target, event.action == "recover")
            self._log(event.action, event.target, "region")
            return
        server = self.servers[event.target]
        action = event.action
        if action == "crash":
            server.crash()
        elif action == "recover":
            server.recover()
        elif action == "hang":
            server.hang()
        elif action == "slow":
            assert event.factor is not None
            server.slowdown = event.factor
        elif action == "error_rate":
            assert event.rate is not None
            server.error_rate = event.rate
        elif action in ("drain", "undrain"):
            for balancer in self.balancers:
                balancer.set_draining(server.index, action == "drain")
        elif action == "set_weight":
            assert event.weight is not None
            for balancer in self.balancers:
                balancer.set_weight(server.index, event.weight)
        self._log(action, server.name, _detail(event))

    def _undo(self, event: TimelineEvent) -> None:
        if event.target.startswith("lb-") or event.target in self.regions:
            if event.target in self.regions:
                assert self.on_region is not None
                self.on_region(event.target, True)
            else:
                self.on_balancer(int(event.target[3:]), True)
            self._log("recover", event.target, "region" if event.target in self.regions else "")
            return
        server = self.servers[event.target]
        if event.action in ("crash", "hang"):
            server.recover()
            self._log("recover", server.name)
        elif event.action == "slow":
            server.slowdown = 1.0
            self._log("slow_over", server.name)
        elif event.action == "error_rate":
            server.error_rate = 0.0
            self._log("error_rate_over", server.name)
        elif event.action == "drain":
            for balancer in self.balancers:
                balancer.set_draining(server.index, False)
            self._log("undrain", server.name)

    def _crash_loop(self, server: Server, crashes: Crashes) -> None:
        rng = stream(self.seed, f"crashes/{server.name}")

        def draw(dist: Distribution) -> float:
            return float(dist.sample(rng, 1)[0])

        def crash() -> None:
            server.crash()
            self._log("crash", server.name, "random")
            self._at(self.env.now + draw(crashes.mttr), recover)

        def recover() -> None:
            server.recover()
            self._log("recover", server.name, "random")
            if self.active():
                self._at(self.env.now + draw(crashes.mtbf), crash)

        self._at(draw(crashes.mtbf), crash)


def _detail(event: TimelineEvent) -> str:
    for name in ("factor", "rate", "weight", "for_"):
        value = getattr(event, name)
        if value is not None:
            return f"{name.rstrip('_')}={value:g}"
    return ""
