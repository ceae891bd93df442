"""``regions:``, ``clients.locations`` and ``network:``: a world of several regions.

A region is a named group of server groups (``servers[].name``) behind its
own balancer instances (``instances``, each configured as ``balancer:``
says: algorithm, routes, checks). Clients live in ``locations`` (a share of
``clients.count`` each, contiguous blocks of client ids; a location named
like a region is that region's own population), and ``network.rtt`` gives
the round trip from each location to each region as a distribution (a bare
duration is a fixed value). DNS (``dns:``) sends each client to a region.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BeforeValidator, Field

from lbsim.scenario.dists import Distribution, Frozen
from lbsim.scenario.errors import did_you_mean
from lbsim.scenario.models.servers import Name

if TYPE_CHECKING:
    from lbsim.scenario.models.routing import Loc
    from lbsim.scenario.models.scenario import Scenario


def _fixed_if_bare(value: object) -> object:
    """A bare duration in an RTT entry is a fixed round trip."""
    return (
        {"dist": "deterministic", "value": value} if isinstance(value, str | int | float) else value
    )


Rtt = Annotated[Distribution, BeforeValidator(_fixed_if_bare)]


class Region(Frozen):
    """``{name: eu-west, servers: [eu-web], instances: 2}``."""

    name: Name = Field(description="the region's name (DNS records, rtt, region events)")
    servers: tuple[Name, ...] = Field(
        min_length=1, description="server groups (servers[].name) in this region"
    )
    instances: int = Field(
        default=1,
        ge=1,
        le=64,
        description="balancer instances of the region (clients spread over them by DNS "
        "round robin); numbered lb-0, lb-1, ... across regions in order",
    )


class Location(Frozen):
    """Where a share of the clients are: ``{name: eu-west, share: 0.4, continent: EU}``."""

    name: Name = Field(
        description="the location (a key of network.rtt); named like a region, it is that "
        "region's own population (its other requests count as cross-region)"
    )
    share: float = Field(gt=0, le=1, description="share of clients.count living here")
    continent: str | None = Field(
        default=None,
        pattern=r"^(AF|AN|AS|EU|OC|NA|SA)$",
        description="continent code for geolocation DNS (AF AN AS EU OC NA SA)",
    )
    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166 country code (geolocation)"
    )
    subdivision: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$",
        description="country subdivision, e.g. US-CA (geolocation)",
    )


class Network(Frozen):
    """Round trips between client locations and regions."""

    rtt: dict[Name, dict[Name, Rtt]] = Field(
        description="location -> region -> round trip (a distribution, or a fixed duration); "
        "each pair draws from its own stream and adds to the latency (latency_network)"
    )


def client_locations(count: int, locations: tuple[Location, ...]) -> list[int]:
    """Per client id: the index of its location (contiguous blocks by share)."""
    edges, acc = [], 0.0
    for loc in locations:
        acc += loc.share
        edges.append(min(round(acc * count), count))
    edges[-1] = count
    out, c = [], 0
    for i, edge in enumerate(edges):
        out += [i] * (edge - c)
        c = edge
    return out


def region_problems(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Field path and message of each inconsistency between regions, client
    locations, the RTT matrix, DNS records and the balancer."""
    problems: list[tuple[Loc, str]] = []
    regions = [r.name for r in scenario.regions]
    locations = scenario.clients.locations
    dns = scenario.dns
    if not regions:
        for field, value in (("network", scenario.network), ("dns", dns)):
            if value is not None:
                problems.append(((field,), "needs `regions:`"))
        if locations:
            problems.append((("clients", "locations"), "needs `regions:`"))
        return problems
    groups = [pool.name for pool in scenario.servers]
    owner: dict[str, str] = {}
    if len(set(regions)) != len(regions):
        problems.append((("regions",), f"region names must be unique: {regions}"))
    taken = set(scenario.server_names())
    for i, name in enumerate(regions):
        if name in taken or name.startswith("lb-"):
            problems.append(
                (("regions", i, "name"), f"{name!r} is taken by a server or balancer instance")
            )
    for i, region in enumerate(scenario.regions):
        for group in region.servers:
            if group not in groups:
                hint = did_you_mean(group, groups)
                problems.append(
                    (("regions", i, "servers"), f"unknown server group {group!r}{hint}")
                )
            elif group in owner:
                problems.append(
                    (("regions", i, "servers"), f"{group!r} is already in region {owner[group]}")
                )
            owner.setdefault(group, region.name)
    for group in groups:
        if group not in owner:
            problems.append((("regions",), f"server group {group!r} is in no region"))
    if scenario.balancer.mode != "active_active":
        problems.append((("balancer", "mode"), "regions need active_active balancer instances"))
    names = [loc.name for loc in locations]
    if not locations:
        problems.append((("clients",), "regions need clients.locations (where the clients are)"))
    elif len(set(names)) != len(names):
        problems.append((("clients", "locations"), f"location names must be unique: {names}"))
    elif abs(sum(loc.share for loc in locations) - 1) > 1e-9:
        problems.append((("clients", "locations"), "location shares must sum to 1"))
    rtt = scenario.network.rtt if scenario.network is not None else {}
    for name in rtt:
        if name not in names:
            hint = did_you_mean(name, names)
            problems.append((("network", "rtt", name), f"unknown client location {name!r}{hint}"))
        for to in rtt[name]:
            if to not in regions:
                hint = did_you_mean(to, regions)
                problems.append((("network", "rtt", name, to), f"unknown region {to!r}{hint}"))
    for i, loc in enumerate(locations):
        missing = [r for r in regions if r not in rtt.get(loc.name, {})]
        if missing:
            problems.append(
                (
                    ("clients", "locations", i, "name"),
                    f"client location {loc.name!r} has no network.rtt entry to "
                    + ", ".join(missing),
                )
            )
    if dns is not None:
        problems += dns.problems(regions, locations)
    return problems
