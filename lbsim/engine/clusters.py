"""A world's balancer clusters: one balancer (an instance, or a route's
cluster on it) with its algorithm, health probers, slow start and passive
checks, and the probers of an instance booted later (autoscaling)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from lbsim import algorithms
from lbsim.algorithms import HostSet
from lbsim.algorithms.plugins import subscribe_plugin
from lbsim.engine.balancer import Balancer
from lbsim.engine.connected import ConnectedBalancer, PinnedBalancer
from lbsim.engine.health import Prober
from lbsim.engine.hedging import HedgingBalancer
from lbsim.engine.outlier import passive_checker
from lbsim.engine.servers import Server
from lbsim.engine.slowstart import SlowStarter
from lbsim.scenario import AlgorithmChoice, HealthCheck, PassiveCheck
from lbsim.streams import stream

if TYPE_CHECKING:
    from lbsim.engine.world import World


def probers_for(world: World, server: Server, generation: int) -> list[Prober]:
    """Health checks of a newly booted instance, one per balancer that checks it."""
    return [
        Prober(
            world.env,
            server,
            balancer,
            world._health[balancer.slot],
            world.recorder,
            world.scenario.seed,
            world.active,
            world._probe_timers,
            generation,
        )
        for balancer in world.balancers
        if balancer.slot in world._health and balancer.members[server.index]
    ]


def build_cluster(
    world: World,
    index: int,
    suffix: str,
    members: list[bool] | None,
    choice: AlgorithmChoice,
    health_check: HealthCheck | None,
    passive: PassiveCheck | None,
) -> Balancer:
    """One balancer (instance ``index``, or a route's cluster on it) with
    its algorithm, health probers, slow start and passive checks."""
    scenario, config, seed = world.scenario, world.scenario.balancer, world.scenario.seed
    backends = HostSet(world._names, world._weights, true_load=lambda i: world.servers[i].in_system)
    algorithm = algorithms.get(choice.name).factory(
        backends, stream(seed, f"algorithm{suffix}"), choice.params()
    )
    subscribe_plugin(backends, algorithm)
    kind: Callable[..., Balancer] = Balancer
    if scenario.clients.hedge is not None:
        kind = HedgingBalancer
    if world.connections is not None:
        kind = partial(ConnectedBalancer, table=world.connections)
        if world.connections.pinned:
            limits = config.connections
            drain = limits.drain_timeout if limits is not None else None
            kind = partial(PinnedBalancer, table=world.connections, drain_timeout=drain)
    balancer = kind(
        world.env,
        index,
        backends,
        algorithm,
        world.servers,
        backup=world._backup,
        panic_threshold=config.panic_threshold,
        fail_open=config.fail_open,
        all_backups=config.all_backups,
        connect_timeout=config.connect_timeout,
        clients=scenario.clients,
        recorder=world.recorder,
        state=world.state,
        keys=world._keys,
        client_ids=world._client_ids,
        rng=stream(seed, f"retries{suffix}"),
        totals=world.totals,
        members=members,
    )
    balancer.slot = len(world.balancers)
    world.balancers.append(balancer)
    provisioned = world._provisioned
    if not all(provisioned):
        balancer.start_unregistered(
            [i for i, ok in enumerate(provisioned) if not ok and balancer.members[i]]
        )
    if health_check is not None:
        world._health[balancer.slot] = health_check
    probers = (
        [
            Prober(
                world.env,
                server,
                balancer,
                health_check,
                world.recorder,
                seed,
                world.active,
                world._probe_timers,
            )
            for server in world.servers
            if balancer.members[server.index] and provisioned[server.index]
        ]
        if health_check is not None
        else []
    )
    if any(pool.autoscale for pool in scenario.servers):  # stopped on a scale-in
        for prober in probers:
            world._probers.setdefault(prober.server.index, []).append(prober)
    if probers:
        healthy = list(balancer.healthy)
        for prober in probers:
            healthy[prober.server.index] = prober.healthy
        balancer.set_initial_health(healthy)
    if config.slow_start is not None:
        SlowStarter(world.env, balancer, config.slow_start, world.recorder)
    if passive is not None:
        passive_checker(
            passive,
            world.env,
            balancer,
            world.recorder,
            probers,
            stream(seed, f"outlier{suffix}"),
            world.active,
        )
    return balancer
