"""Benchmark: cost per request with 8 servers versus 1,000, for every algorithm.

The same per-server load (utilisation 0.8, exponential demand of 1 s, one
worker each) over 8 and over 1,000 servers, 100,000 requests each; prints
wall-microseconds per simulated request and the ratio. An algorithm whose
published rule allows better than O(servers) per pick should stay near 1
(more servers also mean a bigger event heap, so a little above 1 is normal:
the textbook SimPy model of bench/w1.py, timed at both sizes in the same run,
shows how much of the ratio is the heap's own growth).

    python bench/scale.py
"""

from __future__ import annotations

import argparse
import time

from w1 import textbook

from lbsim import algorithms
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load


def per_request(algorithm: str, servers: int, requests: int) -> float:
    rate = 0.8 * servers
    data = {
        "duration": requests / rate,
        "sample_interval": requests / rate / 10,
        "clients": {
            "count": 50_000,
            "arrivals": {"rate": rate},
            "service": {"dist": "exponential", "mean": 1.0},
        },
        "balancer": {"algorithm": algorithm},
        "servers": [{"name": "web", "count": servers}],
    }
    scenario = load(data=data).base
    workload = draw_workload(scenario)
    started = time.perf_counter()
    World(scenario, workload).run()
    return (time.perf_counter() - started) / len(workload) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    print(f"{'algorithm':<22} {'8 servers':>10} {'1000 servers':>13}  ratio")
    anchor = [1e6 / textbook(args.requests, 1, n, 0.8 * n) for n in (8, 1000)]
    growth = anchor[1] / anchor[0]
    print(f"{'textbook SimPy':<22} {anchor[0]:8.2f}µs {anchor[1]:11.2f}µs  {growth:5.2f}")
    for name in algorithms.available():
        small = per_request(name, 8, args.requests)
        large = per_request(name, 1000, args.requests)
        print(f"{name:<22} {small:8.2f}µs {large:11.2f}µs  {large / small:5.2f}")


if __name__ == "__main__":
    main()
