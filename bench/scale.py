"""Benchmark: cost per request with 8 servers versus 1,000 and 10,000.

The same per-server load (utilisation 0.8, exponential demand of 1 s, one
worker each) over 8, 1,000 and 10,000 servers, with the scenario's default
level sampling, in three cases: plain; with active health checks (HAProxy
preset, one prober per server); with an overall and a per-try timeout that
never fire (timer lists). Prints CPU-microseconds per simulated request
(``time.process_time``: on a shared machine wall time mostly measures the
other processes) and the ratios to 8 servers, next to two anchors timed at
the same sizes in the same run: the textbook SimPy model of bench/w1.py and
a bare ``heapq`` event loop of the same system (random choice, FCFS queues)
— the floor, whose own growth is the event heap's and the memory's (a heap
of 0.8 x servers pending completions; servers' state no longer in cache).
World build and run are timed separately.

``--policies`` times the newer policies instead (issue 12: peak EWMA,
client-side weighted round robin, join-idle-queue, bounded-load ring hash,
subsetting, stale load counts), plain, at 8 and 1,000 servers, each next to
round robin timed in the same run.

    python bench/scale.py                               # random, every case
    python bench/scale.py --repeat 3                    # best of 3 runs each (the README's)
    python bench/scale.py --algorithms random least_connections --requests 50000
    python bench/scale.py --policies --requests 20000   # the newer policies, short
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import w1
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


def heapq_loop(requests: int, servers: int, seed: int = 1) -> float:
    """CPU-µs per request of bench/w1.py's bare heapq loop over ``servers``
    servers at utilisation 0.8 (exponential demand of 1 s, random choice)."""
    return 1e6 / w1.heapq_loop(requests, seed, servers, 0.8 * servers, time.process_time)


class _CPUClock:
    """``time`` for bench/w1.py's textbook model, reading CPU time."""

    perf_counter = staticmethod(time.process_time)


def textbook_cpu(requests: int, servers: int) -> float:
    """CPU-µs per request of the textbook SimPy model at ``servers`` servers."""
    clock, w1.time = w1.time, _CPUClock  # type: ignore[assignment]
    try:
        return 1e6 / textbook(requests, 1, servers, 0.8 * servers)
    finally:
        w1.time = clock


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
    started = time.process_time()
    world = World(scenario, workload)
    built = time.process_time()
    world.run()
    return built - started, (time.process_time() - built) / len(workload) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--algorithms", nargs="+", default=["random"])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--policies", action="store_true", help="time the newer policies")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs each")
    args = parser.parse_args()
    if args.policies:
        policies(args.requests)
        return
    sizes = "".join(f"{n:>11,}" for n in SIZES)
    print(f"{'':<36}{sizes}  ratios to 8 servers")
    best = range(args.repeat)
    anchors = {
        "bare heapq loop": [min(heapq_loop(args.requests, n) for _ in best) for n in SIZES],
        "textbook SimPy": [min(textbook_cpu(args.requests, n) for _ in best) for n in SIZES],
    }
    for label, anchor in anchors.items():
        cells = "".join(f"{a:9.2f}µs" for a in anchor)
        ratios = " ".join(f"{a / anchor[0]:5.2f}" for a in anchor[1:])
        print(f"{label:<36}{cells}  {ratios}", flush=True)
    for name in args.algorithms:
        for case in args.cases:
            runs = [
                min((per_request(name, n, args.requests, case) for _ in best), key=_run_cost)
                for n in SIZES
            ]
            cost = [run[1] for run in runs]
            cells = "".join(f"{c:9.2f}µs" for c in cost)
            ratios = " ".join(f"{c / cost[0]:5.2f}" for c in cost[1:])
            builds = ", ".join(f"{run[0]:.2f}" for run in runs)
            print(f"{name + ' / ' + case:<36}{cells}  {ratios}   build {builds} s", flush=True)


def _run_cost(run: tuple[float, float]) -> float:
    return run[1]


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
