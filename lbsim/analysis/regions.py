"""Summary metrics of runs with regions: locality, DNS load and region failover.

``cross_region_share``: requests sent to a region other than their client's
own (a location named like a region; clients of other locations always
count as cross-region). ``dns_queries_per_s``: authoritative queries (a
resolver's cache had expired) per second of the window.
``dead_region_requests``: requests that reached a region while it was down
(a region ``crash`` event to its ``recover``, or the end of arrivals).
``failover_time``: per outage, the time from the failure until the share of
requests reaching the dead region stays at or below 1% (99% of traffic has
moved), in bins of the sampling period; the mean over outages.
"""

from __future__ import annotations

import math

import numpy as np

from lbsim.engine.records import Recorder
from lbsim.engine.workload import Workload
from lbsim.scenario import Scenario
from lbsim.scenario.models.regions import client_locations

MOVED = 0.99  # failover_time: this share of traffic away from the dead region
QUERY = 2  # the ``dns`` column's authoritative query


def region_outages(scenario: Scenario, rec: Recorder) -> list[tuple[int, float, float]]:
    """(region index, failed at, recovered at) of each region failure while
    requests arrive (one at or after the end of arrivals reaches nobody)."""
    names = [r.name for r in scenario.regions]
    down: dict[str, float] = {}
    out: list[tuple[int, float, float]] = []
    for event in rec.events:
        if event.target not in names or event.detail != "region" or event.time >= scenario.duration:
            continue
        if event.kind == "crash":
            down.setdefault(event.target, event.time)
        elif event.kind == "recover" and event.target in down:
            out.append((names.index(event.target), down.pop(event.target), event.time))
    out += [(names.index(name), at, scenario.duration) for name, at in down.items()]
    return sorted(out, key=lambda o: o[1])


def region_metrics(
    scenario: Scenario, workload: Workload, rec: Recorder, first: int, window: float
) -> dict[str, float]:
    """The metrics of the module docstring (none without regions)."""
    if not scenario.regions:
        return {}
    names = [r.name for r in scenario.regions]
    locations = scenario.clients.locations
    home = np.array(
        [names.index(loc.name) if loc.name in names else -1 for loc in locations], dtype=np.int64
    )[client_locations(scenario.clients.count, locations)]
    region = rec.columns["region"][first:].astype(np.int64)
    n = len(region)
    sent = region >= 0
    row: dict[str, float] = {
        "cross_region_share": float((sent & (region != home[workload.client[first:]])).sum() / n)
        if n
        else 0.0,
        "dns_queries_per_s": float((rec.columns["dns"][first:] == QUERY).sum() / window),
    }
    reached = workload.arrival[first:] + rec.columns["latency_network"][first:]
    dead, moved = 0, []
    for r, start, stop in region_outages(scenario, rec):
        during = (reached >= start) & (reached < stop)
        there = during & (region == r)
        dead += int(there.sum())
        moved.append(_failover_time(reached[during], there[during], start, stop, scenario.sampling))
    row["dead_region_requests"] = dead
    row["failover_time"] = float(np.mean(moved)) if moved else math.nan
    return row


def _failover_time(
    times: np.ndarray, dead: np.ndarray, start: float, stop: float, width: float
) -> float:
    """Seconds from ``start`` to the end of the last bin (of ``width``) whose
    share of requests to the dead region is above 1 - MOVED."""
    bins = max(1, math.ceil((stop - start) / width))
    index = np.minimum(((times - start) / width).astype(np.int64), bins - 1)
    total = np.bincount(index, minlength=bins)
    there = np.bincount(index[dead], minlength=bins)
    above = np.flatnonzero(there > (1 - MOVED) * total)
    return float(min((above[-1] + 1) * width, stop - start)) if len(above) else 0.0
