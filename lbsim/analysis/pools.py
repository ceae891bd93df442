"""Per-pool and per-version numbers of a layer-7 run (routes, canaries).

The summary is one row per variant over every request; a run whose routes
send requests to several pools, or whose pool splits traffic between
versions (a canary), also needs each pool's and each version's own numbers:
:func:`pool_table` derives them from the run's request rows (``route`` and
``version`` columns) and time series, with the summary's definitions (error
rate over the requests that arrived after the warm-up, latency over all
requests with a never-answered one as ∞) restricted to the requests routed
to the pool (or version), and utilisation over the pool's (version's) servers.

Pools come from the scenario as the run recorded it (``meta["scenario"]``):
each route's ``pool`` is a declared pool or a server group; a run without
routes has one route to its one declared pool, or to every server group.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lbsim.analysis.metrics import POOL_METRICS
from lbsim.analysis.summary import Exact, WithUnanswered

#: The whole pool's row in the ``version`` column.
WHOLE_POOL = ""

#: What the per-pool tables cover, for their legend.
POOLS_NOTE = (
    "Each table covers the requests after warm-up that a route sent to the pool "
    "(or to one version of it), one row per variant; share: of all the variant's "
    "requests; latency over all of them (a failure at the time the client learned of it, "
    "a timeout at the timeout, one never answered as ∞); utilisation: busy workers of the "
    "pool's (version's) servers, sampled over the measured window."
)


def measured_samples(timeseries: pd.DataFrame, meta: Mapping[str, Any]) -> pd.DataFrame:
    """Time-series rows in the measured window [warm-up, duration) (all rows
    if none is in it, or the run's meta does not say)."""
    if "time" not in timeseries.columns or timeseries.empty:
        return timeseries
    lo, hi = meta.get("warmup"), meta.get("duration")
    keep = np.ones(len(timeseries), dtype=bool)
    if isinstance(lo, int | float):
        keep &= (timeseries["time"] >= lo).to_numpy()
    if isinstance(hi, int | float):
        keep &= (timeseries["time"] < hi).to_numpy()
    return timeseries[keep] if keep.any() else timeseries


def pools_of(scenario: Mapping[str, Any]) -> list[tuple[str, list[int], list[tuple[str, ...]]]]:
    """(pool name, the routes that send to it, the server groups of each version,
    or one tuple of groups for a pool without versions), in route order."""
    groups = [str(s["name"]) for s in scenario.get("servers") or ()]
    declared = {str(p["name"]): p for p in scenario.get("pools") or ()}
    routes = (scenario.get("balancer") or {}).get("routes")
    if routes is None:
        targets = [next(iter(declared))] if len(declared) == 1 else ["all"]
    else:
        targets = [str(route["pool"]) for route in routes]
    found: dict[str, tuple[list[int], list[tuple[str, ...]]]] = {}
    for index, target in enumerate(targets):
        pool = declared.get(target)
        if pool is not None and pool.get("versions"):
            parts = [tuple(v["servers"]) for v in pool["versions"]]
        elif pool is not None:
            parts = [tuple(pool.get("servers") or groups)]
        else:
            parts = [(target,) if target in groups else tuple(groups)]
        found.setdefault(target, ([], parts))[0].append(index)
    return [(name, routes_, parts) for name, (routes_, parts) in found.items()]


def version_names(scenario: Mapping[str, Any], pool: str) -> list[str]:
    """The versions of a declared pool, in order (empty without versions)."""
    for declared in scenario.get("pools") or ():
        if declared.get("name") == pool:
            return [str(v["name"]) for v in declared.get("versions") or ()]
    return []


def has_pool_table(requests: pd.DataFrame, meta: Mapping[str, Any]) -> bool:
    """Whether the run has more to show than the summary: request rows with a
    ``route``, and several pools or a pool with versions."""
    scenario = meta.get("scenario") or {}
    if "route" not in requests.columns or requests.empty or not scenario:
        return False
    pools = pools_of(scenario)
    return len(pools) > 1 or any(version_names(scenario, name) for name, _, _ in pools)


def sampled_note(meta: Mapping[str, Any]) -> str:
    """What the tables' request rows are, when they are not every request."""
    if meta.get("records") == "sample":
        return " From the sampled request rows (records: sample, every 100th request)."
    return ""


def pool_table(
    requests: pd.DataFrame, timeseries: pd.DataFrame, meta: Mapping[str, Any]
) -> pd.DataFrame:
    """One row per variant, pool and version (``version`` is :data:`WHOLE_POOL`
    for the whole pool's row, which comes first): ``variant``, ``pool``,
    ``version``, then :data:`~lbsim.analysis.metrics.POOL_METRICS`.

    ``share`` is the fraction of the variant's measured requests routed to the
    pool (version); ``utilization_mean`` the time-average of the sampled
    ``in_service / workers`` over the pool's (version's) servers in the
    measured window (NaN without samples there). Empty without request rows
    that carry a ``route``.
    """
    columns = ["variant", "pool", "version", *POOL_METRICS]
    scenario = meta.get("scenario") or {}
    if "route" not in requests.columns or requests.empty or not scenario:
        return pd.DataFrame(columns=columns)
    samples = measured_samples(timeseries, meta)
    servers = _servers_by_variant(meta)
    rows: list[dict[str, Any]] = []
    by_variant = requests.groupby("variant", observed=True, sort=False)
    series = {str(k): g for k, g in samples.groupby("variant", observed=True, sort=False)}
    for variant, frame in by_variant:
        name = str(variant)
        route = frame["route"].to_numpy()
        version = frame["version"].to_numpy() if "version" in frame else np.full(len(frame), -1)
        levels = series.get(name, pd.DataFrame())
        own = servers.get(name, servers.get("", {}))
        for pool, routes, parts in pools_of(scenario):
            in_pool = np.isin(route, routes)
            versions = version_names(scenario, pool)
            every_group = tuple(g for part in parts for g in part)
            picks = [(WHOLE_POOL, in_pool, every_group)]
            picks += [(v, in_pool & (version == i), parts[i]) for i, v in enumerate(versions)]
            for label, chosen, groups in picks:
                row = _numbers(frame[chosen], len(frame), levels, own, groups)
                rows.append({"variant": name, "pool": pool, "version": label, **row})
    return pd.DataFrame(rows, columns=columns)


def pool_groups(table: pd.DataFrame, meta: Mapping[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows by variant) of each pool and then each of its versions,
    from :func:`pool_table`; titles name the server groups."""
    scenario = meta.get("scenario") or {}
    groups: list[tuple[str, pd.DataFrame]] = []
    for pool, _, parts in pools_of(scenario):
        versions = version_names(scenario, pool)
        every = ", ".join(dict.fromkeys(g for part in parts for g in part))
        labels = [(WHOLE_POOL, f"pool {pool} (servers: {every})")]
        labels += [
            (v, f"pool {pool}, version {v} (servers: {', '.join(parts[i])})")
            for i, v in enumerate(versions)
        ]
        for version, title in labels:
            chosen = (table["pool"] == pool) & (table["version"] == version)
            if chosen.any():
                groups.append((title, table[chosen].reset_index(drop=True)))
    return groups


def _numbers(
    frame: pd.DataFrame,
    total: int,
    levels: pd.DataFrame,
    servers: Mapping[str, tuple[str, float]],
    groups: Sequence[str],
) -> dict[str, float]:
    n = len(frame)
    latency = frame["latency"].to_numpy(dtype=float)
    answered = latency[np.isfinite(latency)]
    everyone = WithUnanswered(Exact(answered.copy()), n - answered.size)
    p50, p99 = everyone.percentiles([50, 99]) if n else (math.nan, math.nan)
    failed = (frame["status"] != "ok").to_numpy()
    return {
        "requests": n,
        "share": n / total if total else math.nan,
        "error_rate": float(failed.mean()) if n else math.nan,
        "latency_all_p50": p50,
        "latency_all_p99": p99,
        "utilization_mean": _utilisation(levels, servers, set(groups)),
    }


def _utilisation(
    levels: pd.DataFrame, servers: Mapping[str, tuple[str, float]], groups: set[str]
) -> float:
    """Mean over the samples of busy workers / workers of the groups' servers."""
    names = [s for s, (group, _) in servers.items() if group in groups]
    slots = sum(servers[s][1] for s in names)
    if levels.empty or not names or not slots > 0 or "in_service" not in levels:
        return math.nan
    mine = levels[levels["server"].astype(str).isin(names)]
    if mine.empty:
        return math.nan
    busy = mine.groupby("time")["in_service"].sum()
    return float(busy.mean() / slots)


def _servers_by_variant(meta: Mapping[str, Any]) -> dict[str, dict[str, tuple[str, float]]]:
    """Variant name ("" for the base) -> server -> (its group, its workers)."""

    def table(servers: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, float]]:
        return {
            str(s["name"]): (str(s.get("pool", "")), float(s.get("workers") or math.nan))
            for s in servers
            if s.get("name")
        }

    found = {"": table(meta.get("servers") or ())}
    for variant in meta.get("variants") or ():
        if variant.get("servers"):
            found[str(variant.get("name"))] = table(variant["servers"])
    return found
