"""Benchmark: a layer-7 world against the flat one, in the same run.

The W1 system (8 servers at utilisation 0.9, round robin) simulated flat,
then as layer 7: the same 8 servers split into three server groups behind
three path routes with a three-class request mix (one default route), then
the same with a balancer CPU (layer 7, 4 cores) and TLS termination on top,
then (issue 9's §10 form: routes, cookies and keep-alive) the routed one at
layer 7 as closed-loop sessions riding keep-alive connections with cookie
persistence: sessions of 20 requests, exponential think times of 5 s (below
the 60 s idle timeout, so a session keeps its connection), started at
7.2 / 20 per second so the request rate is W1's; last, those sessions with
the balancer CPU and TLS as well.
Reports simulated requests per CPU-second of the engine (``process_time`` of
build + run; CPU time, not wall time, so other processes on the shared
machine count less), the best of --repeat interleaved runs of each form (as
``timeit`` advises: slower runs are other processes' interference, not the
code's), and each layer-7 form's rate as a share of the flat one: the best
against the best, and the median over rounds of the share within a round
(each form's run next to a flat one, so the two see much the same load).

    python bench/l7.py --requests 100000
"""

from __future__ import annotations

import argparse
import copy
import gc
import statistics
import time
from typing import Any

from bench.w1 import RATE, scenario
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load

SESSION = 20  # requests per session
ROUTES: dict[str, Any] = {
    "servers": [
        {"name": "api", "count": 4, "workers": 1},
        {"name": "static", "count": 2, "workers": 1},
        {"name": "shop", "count": 2, "workers": 1},
    ],
    "mix": [
        {"name": "api", "share": 0.5, "path": "/api/v1"},
        {"name": "static", "share": 0.25, "path": "/static/a.js"},
        {"name": "shop", "share": 0.25, "path": "/checkout"},
    ],
    "routes": [
        {"match": {"path_prefix": "/static"}, "pool": "static"},
        {"match": {"path_prefix": "/checkout"}, "pool": "shop"},
        {"pool": "api"},
    ],
}


def forms(requests: int, warmup: int) -> dict[str, dict[str, Any]]:
    flat = scenario("round_robin", requests, warmup)
    routed = copy.deepcopy(flat)
    routed["servers"] = ROUTES["servers"]
    routed["clients"]["mix"] = ROUTES["mix"]  # type: ignore[index]
    routed["balancer"]["routes"] = ROUTES["routes"]  # type: ignore[index]
    cpu = copy.deepcopy(routed)
    cpu["balancer"]["layer"] = 7  # type: ignore[index]
    cpu["balancer"]["cpu"] = {"workers": 4}  # type: ignore[index]
    cpu["balancer"]["tls"] = {"resumption": 0.5}  # type: ignore[index]
    sessions = _in_sessions(copy.deepcopy(routed))
    sessions["balancer"]["layer"] = 7  # type: ignore[index]
    return {
        "flat": flat,
        "routes + mix": routed,
        "routes + mix + cpu + tls": cpu,
        "routes + sessions, cookies, keep-alive": sessions,
        "+ cpu + tls": _in_sessions(copy.deepcopy(cpu)),
    }


def _in_sessions(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as closed-loop sessions on keep-alive connections with cookie persistence."""
    clients: dict[str, Any] = data["clients"]
    clients["arrivals"] = {"process": "poisson", "rate": RATE / SESSION}
    clients["sessions"] = {"requests": SESSION, "think": "5s"}
    clients["connections"] = {"keepalive": {"requests": 100}}
    data["balancer"]["sticky"] = {"cookie": "SERVERID"}
    return data


def rate(data: dict[str, Any]) -> float:
    """Requests simulated per CPU-second of building and running the world."""
    variant = load(data=data).variants[0]
    workload = draw_workload(variant.scenario)
    gc.collect()
    started = time.process_time()
    world = World(variant.scenario, workload)
    world.run()
    return len(world.workload) / (time.process_time() - started)  # sessions: requests sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    for _ in range(args.repeat):  # interleaved, so machine noise hits every form alike
        for name, data in forms(args.requests, args.warmup).items():
            results.setdefault(name, []).append(rate(data))
    flat = max(results["flat"])
    for name, rates in results.items():
        best = max(rates)
        paired = statistics.median(r / f for r, f in zip(rates, results["flat"], strict=True))
        print(
            f"{name:38s} {best:10,.0f} req/CPU-s  {best / flat:5.2f} × flat"
            f"  (median of each round's share: {paired:.2f})"
        )


if __name__ == "__main__":
    main()
