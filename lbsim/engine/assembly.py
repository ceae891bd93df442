"""Parts of a world built once its servers and balancers are: the clients'
connection table, the regions' DNS and network, and the pools' autoscalers
(each absent when the scenario has none)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from lbsim.engine.autoscaling import PoolScaler
from lbsim.engine.clusters import probers_for
from lbsim.engine.connections import ConnectionTable, origins
from lbsim.engine.loop import Loop
from lbsim.engine.records import Column, column
from lbsim.engine.regions import Regional
from lbsim.engine.workload import Workload
from lbsim.scenario import Scenario
from lbsim.streams import stream

if TYPE_CHECKING:
    from lbsim.engine.health import Prober
    from lbsim.engine.world import World


def connection_table(
    env: Loop, scenario: Scenario, workload: Workload, n_servers: int, window: tuple[float, float]
) -> ConnectionTable | None:
    """The clients' connections, if the scenario has a connection model."""
    model = scenario.clients.connections
    if model is None:
        return None
    return ConnectionTable(
        env,
        workload,
        model,
        scenario.balancer.connections,
        n_servers,
        window,
        stream(scenario.seed, "keepalive-requests"),
        pinned=scenario.balancer.layer == 4 or model.websocket is not None,
        origin=origins(scenario.clients.mix, workload.request_class),
    )


def regional(world: World, clients: Column) -> Regional:
    """DNS and the network in front of the regions' balancer instances
    (``clients``: each request's client)."""
    instances = world.instances
    regions = Regional(
        world.env,
        world.scenario,
        clients,
        world.reached,
        world.recorder,
        lambda region: any(instances[i][0].up for i in regions.instances_of(region)),
        world.active,
    )
    instance = column(world.recorder.balancer)
    if world.fronts:
        fronts = world.fronts
        regions.enter = lambda request: fronts[instance[request]].arrive(request)
    else:
        balancers = world.balancers  # one per instance: answers come back by this column
        regions.enter = lambda request: balancers[instance[request]].dispatch(request)
    return regions


def scalers(world: World, probers: dict[int, list[Prober]]) -> list[PoolScaler]:
    """One autoscaler per pool with ``autoscale`` (none: nothing scheduled);
    ``probers``: each server's probers."""
    made, first = [], 0
    for pool in world.scenario.servers:
        if pool.autoscale is not None:
            made.append(
                PoolScaler(
                    world.env,
                    pool,
                    world.servers[first : first + pool.hosts],
                    world.balancers,
                    world.recorder,
                    partial(probers_for, world),
                    world.state.sent,
                    world.state.server,
                    world.active,
                    [probers.get(first + i, []) for i in range(pool.hosts)],
                )
            )
        first += pool.hosts
    return made
