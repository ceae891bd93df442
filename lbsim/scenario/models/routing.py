"""Cross-checks of routes, pools and the request mix (need the whole scenario)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lbsim.scenario.errors import did_you_mean

if TYPE_CHECKING:
    from lbsim.scenario.models.scenario import Scenario

Loc = tuple[str | int, ...]


def routing_problems(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Each problem's field path and message: a route to an unknown pool, a
    pool of unknown server groups, a mix class no route matches, pinned
    connections with pool versions, a path route at layer 4."""
    problems: list[tuple[Loc, str]] = []
    groups = [pool.name for pool in scenario.servers]
    pools = [pool.name for pool in scenario.pools]
    for p, pool in enumerate(scenario.pools):
        if pool.name in groups:
            problems.append((("pools", p, "name"), f"{pool.name!r} is also a server group name"))
        for v, servers in enumerate(pool.groups()):
            where: Loc = (
                ("pools", p, "servers")
                if pool.versions is None
                else ("pools", p, "versions", v, "servers")
            )
            for group in servers:
                if group not in groups:
                    hint = did_you_mean(group, groups)
                    problems.append((where, f"unknown server group {group!r}{hint}"))
    routes = scenario.balancer.routes
    config = scenario.balancer
    connections = scenario.clients.connections
    pinned = connections is not None and (config.layer == 4 or connections.websocket is not None)
    if pinned and any(p.versions for p in scenario.pools):
        problems.append(
            (
                ("balancer", "layer" if config.layer == 4 else "routes"),
                "pinned connections (balancer.layer 4 or WebSockets) are not modelled with "
                "pool versions: the canary split is drawn per request, a pinned connection "
                "would need it per connection",
            )
        )
    if routes is None:
        return problems
    for r, route in enumerate(routes[:-1]):
        if route.catch_all:
            problems.append(
                (
                    ("balancer", "routes", r),
                    "matches every request, so the routes after it are never reached "
                    "(overlapping catch-alls; put the one default route last)",
                )
            )
    for r, route in enumerate(routes):
        if route.pool not in pools and route.pool not in groups:
            hint = did_you_mean(route.pool, pools + groups)
            known = ", ".join(pools + groups)
            problems.append(
                (
                    ("balancer", "routes", r, "pool"),
                    f"unknown pool {route.pool!r}{hint} (known: {known})",
                )
            )
    opaque = config.layer == 4 or (config.tls is not None and config.tls.mode == "passthrough")
    for r, route in enumerate(routes):
        if opaque and route.match is not None and route.match.path_prefix is not None:
            problems.append(
                (
                    ("balancer", "routes", r, "match"),
                    "a layer-4 balancer (balancer.layer 4 or tls passthrough) cannot see the path; "
                    "route by host (SNI) or use layer 7",
                )
            )
    classes = scenario.clients.mix
    if classes is None:
        if not any(route.match is None or route.match.matches("/", None) for route in routes):
            problems.append(
                (
                    ("balancer", "routes"),
                    "without clients.mix every request has path / and no "
                    "host: give a default route (one without `match`)",
                )
            )
        return problems
    for c, kind in enumerate(classes):
        if not any(
            route.match is None or route.match.matches(kind.path, kind.host) for route in routes
        ):
            problems.append(
                (
                    ("clients", "mix", c),
                    f"class {kind.name!r} (path {kind.path}) matches no route "
                    "and there is no default route",
                )
            )
    return problems


def route_of(scenario: Scenario, path: str, host: str | None) -> int:
    """Index of the first route matching ``path`` and ``host`` (first match wins)."""
    routes = scenario.balancer.routes or ()
    for index, route in enumerate(routes):
        if route.match is None or route.match.matches(path, host):
            return index
    raise ValueError(f"no route matches {path}")  # ruled out by routing_problems
