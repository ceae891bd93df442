"""Regions, the network and DNS failover (lbsim.engine.regions, lbsim.engine.dns).

Every window and tolerance below is derived from the scenario's parameters:
a failed region is marked unhealthy by the Route 53 checkers at most
``failure_threshold × interval`` after it fails (every checker has had that
many contrary results by then), and a resolver that answered just before
that keeps the answer for at most ``ttl``; a client keeps it no longer than
its resolver unless it is stale (then ``hold``). The network adds at most
the largest round trip before a request reaches its region.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest

import lbsim
from lbsim.streams import stream

INTERVAL, THRESHOLD, TTL = 10.0, 3, 60.0
MAX_RTT = 0.08
OUTAGES = ((200.0, 240.0), (617.0, 200.0), (1031.0, 260.0))  # (at, for): several phases

TWO_REGIONS: dict[str, Any] = {
    "name": "regions",
    "seed": 3,
    "duration": "25m",
    "warmup": 0,
    "clients": {
        "count": 600,
        "arrivals": {"process": "poisson", "rate": 12},
        "service": {"dist": "exponential", "mean": 0.05},
        "locations": [{"name": "us", "share": 0.5}, {"name": "eu", "share": 0.5}],
    },
    "servers": [{"name": "us-web", "count": 2}, {"name": "eu-web", "count": 2}],
    "regions": [{"name": "us", "servers": ["us-web"]}, {"name": "eu", "servers": ["eu-web"]}],
    "network": {"rtt": {"us": {"us": "10ms", "eu": "80ms"}, "eu": {"us": "80ms", "eu": "12ms"}}},
    "dns": {
        "policy": "weighted",
        "ttl": TTL,
        "resolvers": 600,  # one per client: independent answers
        "health_check": {"interval": INTERVAL, "failure_threshold": THRESHOLD},
    },
    "events": [
        {"at": at, "target": "eu", "action": "crash", "for": length} for at, length in OUTAGES
    ],
}


def regions(**dns: Any) -> dict[str, Any]:
    data = copy.deepcopy(TWO_REGIONS)
    data["dns"].update(dns)
    return data


@pytest.fixture(scope="module")
def weighted() -> lbsim.Result:
    """The three outages, run once for the tests that read them."""
    return lbsim.run(regions())


def _late(requests: pd.DataFrame, slack: float) -> list[pd.DataFrame]:
    """Per outage: requests reaching the failed region later than ``slack``
    after its failure, while it is still down."""
    reached = requests["arrival"] + requests["latency_network"]
    eu = requests["region"] == 1
    return [
        requests[eu & (reached >= at + slack) & (reached < at + length)] for at, length in OUTAGES
    ]


def test_traffic_to_a_failed_region_stops_within_detection_plus_ttl(
    weighted: lbsim.Result,
) -> None:
    window = THRESHOLD * INTERVAL + TTL + MAX_RTT
    result = weighted
    requests = result.requests
    assert all(len(late) == 0 for late in _late(requests, window))
    # and caching is why it takes that long: some requests still went there after the failure
    assert all(len(early) > 0 for early in _late(requests, 0.0))
    summary = result.summary.iloc[0]
    assert 0 < summary["dead_region_requests"] == sum(len(e) for e in _late(requests, 0.0))
    sampling = 25 * 60 / 500  # the failover_time bins: duration / 500
    assert 0 < summary["failover_time"] <= window + sampling


def test_with_stale_clients_only_the_stale_ones_keep_going_there() -> None:
    """After detection + TTL only stale clients still reach the dead region.
    With one resolver per client each stale client's one answer (it never
    resolves again: ``hold`` outlasts the run) is the dead region with
    probability 1/2 (weights 1:1), independently: of the n stale clients
    seen after the window, the number stuck is Binomial(n, 1/2); we allow
    3.5 standard deviations (n ≈ 120: ±19, a stuck probability off by more
    than about 0.16 fails)."""
    share = 0.2
    data = regions(stale={"share": share, "hold": "2h"})
    requests = lbsim.run(data).requests
    stale = stream(data["seed"], "dns/stale").random(data["clients"]["count"]) < share
    window = THRESHOLD * INTERVAL + TTL + MAX_RTT
    late = pd.concat(_late(requests, window))
    assert stale[late["client"].to_numpy()].all()
    first_at, first_for = OUTAGES[0]
    after = requests[(requests["arrival"] >= first_at + window)]
    after = after[after["arrival"] < first_at + first_for]
    seen = np.unique(after["client"].to_numpy()[stale[after["client"].to_numpy()]])
    stuck = np.unique(after[after["region"] == 1]["client"].to_numpy())
    n = len(seen)
    assert abs(len(stuck) - n / 2) <= 3.5 * np.sqrt(n / 4)


def test_a_recovered_region_gets_traffic_again_after_detection_plus_ttl(
    weighted: lbsim.Result,
) -> None:
    """A recovered region is healthy again once the checkers have seen
    ``failure_threshold`` good probes (≤ threshold × interval) and resolvers
    re-ask within a TTL; by then about half the weighted answers are it again.
    Each of the 600 clients has its own resolver and answer (p = 1/2) per TTL,
    so the share has a standard error of at most sqrt(0.25 / 600) ≈ 0.02;
    0.35-0.65 is 7 of them, and a region left out (share 0) or kept
    exclusively (share 1) fails at once."""
    requests = weighted.requests
    window = THRESHOLD * INTERVAL + TTL
    reached = requests["arrival"] + requests["latency_network"]
    for (at, length), (following, _) in zip(OUTAGES, [*OUTAGES[1:], (25 * 60.0, 0.0)], strict=True):
        back = requests[(reached >= at + length + window) & (reached < following)]
        assert 0.35 < (back["region"] == 1).mean() < 0.65


def test_with_a_layer7_front_each_region_serves_from_its_own_servers_only() -> None:
    """Pools spanning regions: an instance of a region balances over the part
    of the pool in its region; the balancer-CPU time excludes the network."""
    data = regions()
    data["events"] = []
    data["duration"] = "5m"
    data["balancer"] = {"cpu": {"workers": 1, "request_cost": "1ms"}}
    data["pools"] = [{"name": "web", "servers": ["us-web", "eu-web"]}]
    data["balancer"]["routes"] = [{"pool": "web"}]
    requests = lbsim.run(data).requests
    prefix = requests["server"].astype(str).str.split("-").str[0]
    assert (prefix == np.where(requests["region"] == 0, "us", "eu")).all()
    # the balancer CPU share of latency is its queue and 1 ms cost, not the 10-80 ms round trip
    assert requests["latency_balancer"].max() < 0.01 <= requests["latency_network"].min()


def test_autoscaled_pools_in_regions_scale_within_their_region() -> None:
    """Regions mask the hosts preallocated up to ``max`` too (the masks once
    covered only ``count``): a pool that scales out adds instances that only
    its own region's balancers send to."""
    data = regions()
    data["events"] = []
    data["duration"] = "4m"
    data["clients"]["arrivals"] = {"process": "poisson", "rate": 40}
    data["balancer"] = {"layer": 7, "instances": 2}
    data["regions"] = [{**region, "instances": 2} for region in data["regions"]]
    for pool in data["servers"]:
        pool["autoscale"] = {"min": 1, "max": 6, "metric": "cpu", "target": 30, "period": "10s"}
    result = lbsim.run(data)
    requests = result.requests
    prefix = requests["server"].astype(str).str.split("-").str[0]
    assert (prefix == np.where(requests["region"] == 0, "us", "eu")).all()
    # 40/s x 50 ms = 2 busy workers over 4 at 30% target: both pools grew
    grown = {name.split("-")[0] for name in requests["server"].astype(str).unique()}
    assert grown == {"us", "eu"}
    assert requests["server"].nunique() > 4
