"""Benchmark: cost per request with 8 servers versus 1,000 and 10,000.

The same per-server load (utilisation 0.8, exponential demand of 1 s, one
worker each) over 8, 1,000 and 10,000 servers, with the scenario's default
level sampling, in three cases: plain; with active health checks (HAProxy
preset, one prober per server); with an overall and a per-try timeout that
never fire (timer lists). Prints wall-microseconds per simulated request and
the ratios to 8 servers, next to the textbook SimPy model of bench/w1.py
timed at the same sizes in the same run (how much of a ratio is the event
heap's own growth). World build and run are timed separately.

``--policies`` times the newer policies instead (issue 12: peak EWMA,
client-side weighted round robin, join-idle-queue, bounded-load ring hash,
subsetting, stale load counts), plain, at 8 and 1,000 servers, each next to
round robin timed in the same run.

    python bench/scale.py                               # random, every case
    python bench/scale.py --algorithms random least_connections --requests 50000
    python bench/scale.py --policies --requests 20000   # the newer policies, short
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
POLICY_SIZES = (8, 1000)
CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "health checks": {"balancer": {"health_check": {"preset": "haproxy"}}},
    "timeouts": {"clients": {"timeout": "60s", "per_try_timeout": "30s"}},
}


def _policies(servers: int) -> dict[str, dict[str, Any]]:
    """The ``balancer:`` of each newer policy at ``servers`` hosts (four
    instances where the policy is about several: join-idle-queue, subsets)."""
    return {
        "round_robin": {"algorithm": "round_robin"},
        "peak_ewma": {"algorithm": "peak_ewma"},
        "client_side_weighted_round_robin": {"algorithm": "client_side_weighted_round_robin"},
        "jiq (4 dispatchers)": {"algorithm": "jiq", "instances": 4},
        "ring_hash (plain, for comparison)": {"algorithm": "ring_hash"},
        "ring_hash hash_balance_factor 125": {
            "algorithm": {"name": "ring_hash", "hash_balance_factor": 125}
        },
        "subset (4 × ¼ of the hosts, P2C)": {
            "algorithm": "power_of_two",
            "instances": 4,
            "subset": {"size": servers // 4},
        },
        "info_delay 1 s (least_connections)": {
            "algorithm": {"name": "least_connections", "info_delay": 1.0}
        },
    }


def per_request(
    algorithm: str,
    servers: int,
    requests: int,
    case: str,
    balancer: dict[str, Any] | None = None,
) -> tuple[float, float]:
    """Seconds to build the world, and wall-µs per request of the run
    (``balancer`` replaces the algorithm and the case's balancer settings)."""
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
        "balancer": balancer or {"algorithm": algorithm, **extra.get("balancer", {})},
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
    parser.add_argument("--policies", action="store_true", help="time the newer policies")
    args = parser.parse_args()
    if args.policies:
        policies(args.requests)
        return
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


def policies(requests: int) -> None:
    """Per-request cost of each newer policy at 8 and 1,000 servers."""
    sizes = "".join(f"{n:>11,}" for n in POLICY_SIZES)
    print(f"{'':<38}{sizes}  1,000 / 8   × round robin at 1,000")
    baseline = 0.0
    for name in _policies(8):
        cost = [per_request("", n, requests, "plain", _policies(n)[name])[1] for n in POLICY_SIZES]
        baseline = baseline or cost[-1]
        cells = "".join(f"{c:9.2f}µs" for c in cost)
        print(f"{name:<38}{cells}  {cost[-1] / cost[0]:9.2f}   {cost[-1] / baseline:5.2f}")


if __name__ == "__main__":
    main()
