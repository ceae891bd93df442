"""Benchmark: cost per request with 8 servers versus 1,000 and 10,000.

The same per-server load (utilisation 0.8, exponential demand of 1 s, one
worker each) over 8, 1,000 and 10,000 servers, with the scenario's default
level sampling, in three cases: plain; with active health checks (HAProxy
preset, one prober per server); with an overall and a per-try timeout that
never fire (timer lists). Prints wall-microseconds per simulated request and
the ratios to 8 servers, next to the textbook SimPy model of bench/w1.py
timed at the same sizes in the same run (how much of a ratio is the event
heap's own growth). World build and run are timed separately.

    python bench/scale.py                               # random, every case
    python bench/scale.py --algorithms random least_connections --requests 50000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from w1 import textbook

from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load

SIZES = (8, 1000, 10_000)
CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "health checks": {"balancer": {"health_check": {"preset": "haproxy"}}},
    "timeouts": {"clients": {"timeout": "60s", "per_try_timeout": "30s"}},
}


def per_request(algorithm: str, servers: int, requests: int, case: str) -> tuple[float, float]:
    """Seconds to build the world, and wall-µs per request of the run."""
    rate = 0.8 * servers
    extra = CASES[case]
    data: dict[str, Any] = {
        "duration": requests / rate,
        "clients": {
            "count": 50_000,
            "arrivals": {"rate": rate},
            "service": {"dist": "exponential", "mean": 1.0},
            **extra.get("clients", {}),
        },
        "balancer": {"algorithm": algorithm, **extra.get("balancer", {})},
        "servers": [{"name": "web", "count": servers}],
    }
    scenario = load(data=data).base
    workload = draw_workload(scenario)
    started = time.perf_counter()
    world = World(scenario, workload)
    built = time.perf_counter()
    world.run()
    return built - started, (time.perf_counter() - built) / len(workload) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--algorithms", nargs="+", default=["random"])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    sizes = "".join(f"{n:>11,}" for n in SIZES)
    print(f"{'':<36}{sizes}  ratios to 8 servers")
    anchor = [1e6 / textbook(args.requests, 1, n, 0.8 * n) for n in SIZES]
    cells = "".join(f"{a:9.2f}µs" for a in anchor)
    print(f"{'textbook SimPy':<36}{cells}  {' '.join(f'{a / anchor[0]:5.2f}' for a in anchor[1:])}")
    for name in args.algorithms:
        for case in args.cases:
            runs = [per_request(name, n, args.requests, case) for n in SIZES]
            cost = [run[1] for run in runs]
            cells = "".join(f"{c:9.2f}µs" for c in cost)
            ratios = " ".join(f"{c / cost[0]:5.2f}" for c in cost[1:])
            builds = ", ".join(f"{run[0]:.2f}" for run in runs)
            print(f"{name + ' / ' + case:<36}{cells}  {ratios}   build {builds} s")


if __name__ == "__main__":
    main()
