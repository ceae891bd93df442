"""Building the layer-7 topology of a world: clusters per route, versions, fronts.

For each balancer instance and each route, one balancer (a cluster) per
version of the route's pool (one for a plain pool or a server group), over
the servers of that version only, with the route's algorithm, health checks
and passive checks (the balancer's where the route sets none); then the
instance's :class:`~lbsim.engine.front.Front`. Streams are named by instance,
route and version, so adding a route leaves the others' draws alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from lbsim.algorithms.draws import Uniforms
from lbsim.engine.balancer import Balancer
from lbsim.engine.canary import Rollout, Splitter, Weights
from lbsim.engine.front import Front
from lbsim.engine.records import column
from lbsim.engine.regions import instance_members
from lbsim.scenario import AlgorithmChoice, HealthCheck, PassiveCheck, Scenario
from lbsim.scenario.models.routes import Pool, Route
from lbsim.scenario.models.routing import route_of
from lbsim.streams import stream

if TYPE_CHECKING:
    from lbsim.engine.world import World

EVERY_GROUP = "*"  # the pool of the flat form's one route: every server group
Cluster = Callable[
    [int, str, list[bool] | None, AlgorithmChoice, HealthCheck | None, PassiveCheck | None],
    Balancer,
]


def is_layer7(scenario: Scenario) -> bool:
    """Whether the scenario needs a front (anything beyond the flat form)."""
    config = scenario.balancer
    return bool(config.routes or config.cpu or config.tls or scenario.clients.mix or scenario.pools)


def routes_of(scenario: Scenario) -> tuple[Route, ...]:
    """The routes; the flat form's one default route to every server group."""
    if scenario.balancer.routes is not None:
        return scenario.balancer.routes
    if len(scenario.pools) == 1:
        return (Route(pool=scenario.pools[0].name),)
    return (Route.model_construct(pool=EVERY_GROUP),)


def pool_of(scenario: Scenario, name: str) -> Pool:
    """The pool a route names: a declared pool, a server group, or every group."""
    for pool in scenario.pools:
        if pool.name == name:
            return pool
    groups = tuple(p.name for p in scenario.servers)
    return Pool(
        name=name if name in groups else "all", servers=(name,) if name in groups else groups
    )


def build_layer7(world: World, cluster: Cluster, slots: np.ndarray) -> None:
    """Clusters, splitters, rollouts and one front per instance, into ``world``."""
    scenario = world.scenario
    config = scenario.balancer
    seed = scenario.seed
    group_of = [pool.name for pool in scenario.servers for _ in range(pool.hosts)]
    routes = routes_of(scenario)
    pools = [pool_of(scenario, route.pool) for route in routes]
    weights = {p.name: Weights(p) for p in pools if p.versions is not None}
    _apply_version_errors(world, pools, group_of)
    mix = scenario.clients.mix
    if mix is None:
        class_route = [0]
        timeouts = [scenario.clients.timeout]
    else:
        class_route = [route_of(scenario, c.path, c.host) for c in mix]
        timeouts = [c.timeout or scenario.clients.timeout for c in mix]
    tls = config.tls
    resumed = None
    if tls is not None:
        draws = stream(seed, "tls-resumption").random(len(world.workload))
        resumed = column((draws < tls.resumption).astype(np.uint8))
    window = (scenario.warmup, scenario.duration)
    by_version: dict[str, list[list[Balancer]]] = {name: [] for name in weights}
    for index, region in enumerate(instance_members(scenario)):
        suffix = f"/{index}" if index else ""
        clusters: list[list[Balancer]] = []
        splitters: list[Splitter | None] = []
        for r, (route, pool) in enumerate(zip(routes, pools, strict=True)):
            versions = []
            for v, groups in enumerate(pool.groups()):
                members = [
                    group in groups and (region is None or region[i])
                    for i, group in enumerate(group_of)
                ]
                versions.append(
                    cluster(
                        index,
                        f"{suffix}/route{r}/v{v}",
                        members,
                        route.algorithm or config.algorithm,
                        route.health_check or config.health_check,
                        route.passive or config.passive,
                    )
                )
            clusters.append(versions)
            if pool.name in weights:
                by_version[pool.name].append(versions)
                rng = stream(seed, f"split{suffix}/route{r}")
                splitters.append(Splitter(weights[pool.name], Uniforms(rng)))
            else:
                splitters.append(None)
        world.instances.append([b for versions in clusters for b in versions])
        world.fronts.append(
            Front(
                world.env,
                index,
                routes=clusters,
                splitters=splitters,
                class_route=class_route,
                class_timeouts=timeouts,
                classes=column(world.workload.request_class)
                if world.workload.request_class is not None
                else None,
                arrival=column(world.reached),
                slots=column(slots),
                cpu=config.cpu,
                layer=config.layer,
                tls=tls,
                resumed=resumed,
                connections=world.connections,
                demand=column(world.demand),
                recorder=world.recorder,
                state=world.state,
                totals=world.totals,
                window=window,
            )
        )
    if world.workload.request_class is not None:
        world.recorder.columns["request_class"][:] = world.workload.request_class
    for pool in pools:
        if pool.name in weights and pool.name not in world.rollouts:
            versions_of = _version_index(pool, group_of)
            rollout = Rollout(
                world.env,
                pool,
                weights[pool.name],
                versions_of.__getitem__,
                world.recorder,
                world.active,
            )
            world.rollouts[pool.name] = rollout
            if pool.rollback is not None:
                for versions in by_version[pool.name]:
                    for balancer in versions:
                        balancer.outcome_listeners.append(rollout.observe)


def _version_index(pool: Pool, group_of: list[str]) -> list[int]:
    """Per server: the index of its version in ``pool`` (-1: not in it)."""
    groups = pool.groups()
    return [next((v for v, g in enumerate(groups) if name in g), -1) for name in group_of]


def _apply_version_errors(world: World, pools: list[Pool], group_of: list[str]) -> None:
    """Servers of a version answer its ``error_rate`` with a 5xx from the start."""
    for pool in pools:
        for version in pool.versions or ():
            for server in world.servers:
                if group_of[server.index] in version.servers and version.error_rate:
                    server.error_rate = version.error_rate
