"""Benchmark W1: lbsim against a textbook SimPy model of the same system.

W1: 8 servers x 1 worker, Poisson arrivals at 7.2/s, exponential demand with
mean 1 s (utilisation 0.9), 200,000 measured requests after 10,000 warm-up
requests, for random, round_robin, least_connections and power_of_two.
Reports simulated requests per CPU-second for each (median of --repeat runs;
``--wall``: per wall-second), the same for two anchors measured in the same
run — a textbook SimPy model (a generator process per request, a
``simpy.Resource`` per server, random choice) and a bare ``heapq`` event loop
(the floor of any Python discrete-event simulation of this system) — the
ratios (to the heapq loop: the median over runs of lbsim's rate over that of
a heapq run just before it, and the best run of each against the best of
the other: on a loaded machine the steadiest figure), the memory lbsim holds per recorded request
(tracemalloc peak of a separate run, divided by requests), and the rate of
the whole ``lbsim.run`` (workload, simulation, DataFrames).

    python bench/w1.py                 # the README's figures
    python bench/w1.py --requests 1000000 --algorithms random   # 1M requests
"""

from __future__ import annotations

import argparse
import gc
import heapq
import statistics
import time
import tracemalloc
from collections import deque
from collections.abc import Callable

import numpy as np
import simpy

import lbsim
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load

RATE, SERVERS = 7.2, 8
ALGORITHMS = ["random", "round_robin", "least_connections", "power_of_two"]


def scenario(algorithm: str, requests: int, warmup: int) -> dict[str, object]:
    return {
        "name": "w1",
        "seed": 1,
        "duration": (requests + warmup) / RATE,
        "warmup": warmup / RATE,
        "sample_interval": 60,
        "clients": {
            "arrivals": {"process": "poisson", "rate": RATE},
            "service": {"dist": "exponential", "mean": 1.0},
        },
        "balancer": {"algorithm": algorithm},
        "servers": [{"name": "web", "count": SERVERS, "workers": 1}],
    }


def textbook(
    requests: int,
    seed: int = 1,
    servers_count: int = SERVERS,
    rate: float = RATE,
    clock: Callable[[], float] | None = None,
) -> float:
    """A SimPy model as the tutorials write it; returns requests per second
    of ``clock`` (wall time by default)."""
    clock = clock or time.perf_counter
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    servers = [simpy.Resource(env, capacity=1) for _ in range(servers_count)]
    latencies: list[float] = []

    def request(demand: float, server: simpy.Resource) -> object:
        arrived = env.now
        with server.request() as slot:
            yield slot
            yield env.timeout(demand)
        latencies.append(env.now - arrived)

    def source() -> object:
        gaps = rng.exponential(1 / rate, requests)
        demands = rng.exponential(1.0, requests)
        choices = rng.integers(0, servers_count, requests)
        for gap, demand, choice in zip(gaps, demands, choices, strict=True):
            yield env.timeout(gap)
            env.process(request(demand, servers[choice]))

    env.process(source())
    started = clock()
    env.run()
    return requests / (clock() - started)


def heapq_loop(
    requests: int,
    seed: int = 1,
    servers: int = SERVERS,
    rate: float = RATE,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """The same system as a bare event loop on ``heapq`` (random choice, FCFS
    queues, latencies recorded); returns requests per second of ``clock``
    (wall time by default)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, requests)).tolist()
    demands = rng.exponential(1.0, requests).tolist()
    choices = rng.integers(0, servers, requests).tolist()
    started = clock()
    queues: list[deque[int]] = [deque() for _ in range(servers)]
    busy = [False] * servers
    latency = [0.0] * requests
    events: list[tuple[float, int, int]] = [(arrivals[0], 0, 0)]  # (time, kind, request)
    pop, push = heapq.heappop, heapq.heappush
    while events:
        now, kind, request = pop(events)
        server = choices[request]
        if kind == 0:  # arrival
            if request + 1 < requests:
                push(events, (arrivals[request + 1], 0, request + 1))
            if busy[server]:
                queues[server].append(request)
            else:
                busy[server] = True
                push(events, (now + demands[request], 1, request))
        else:  # departure
            latency[request] = now - arrivals[request]
            waiting = queues[server]
            if waiting:
                following = waiting.popleft()
                push(events, (now + demands[following], 1, following))
            else:
                busy[server] = False
    return requests / (clock() - started)


def lbsim_rate(
    algorithm: str, requests: int, warmup: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, int]:
    """Requests simulated per second of ``clock`` by the engine (build + run), and the count."""
    variant = load(data=scenario(algorithm, requests, warmup)).variants[0]
    workload = draw_workload(variant.scenario)
    gc.collect()
    started = clock()
    World(variant.scenario, workload).run()
    return len(workload) / (clock() - started), len(workload)


def end_to_end_rate(
    algorithm: str, requests: int, warmup: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Requests per second of ``clock`` of ``lbsim.run``: also drawing the
    workload, building the DataFrames and the summary."""
    data = scenario(algorithm, requests, warmup)
    started = clock()
    result = lbsim.run(data)
    return (requests + warmup) / (clock() - started) if len(result.summary) else 0.0


def bytes_per_request(algorithm: str, requests: int, warmup: int) -> float:
    """Peak memory of draw + build + run, per simulated request."""
    variant = load(data=scenario(algorithm, requests, warmup)).variants[0]
    gc.collect()
    tracemalloc.start()
    workload = draw_workload(variant.scenario)
    World(variant.scenario, workload).run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / len(workload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--warmup", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--algorithms", nargs="+", default=ALGORITHMS)
    parser.add_argument(
        "--wall", action="store_true", help="time wall seconds instead of CPU seconds"
    )
    args = parser.parse_args()
    clock = time.perf_counter if args.wall else time.process_time
    unit = "wall" if args.wall else "CPU"
    print(
        f"lbsim {lbsim.__version__}, W1: {args.requests:,} + {args.warmup:,} warm-up requests,"
        f" requests per {unit}-second"
    )
    total = args.requests + args.warmup
    lbsim.run(scenario(ALGORITHMS[0], 1000, 100))  # imports and first-call costs, untimed
    base = statistics.median(textbook(total, clock=clock) for _ in range(args.repeat))
    floor = statistics.median(heapq_loop(total, clock=clock) for _ in range(args.repeat))
    print(f"{'bare heapq loop (random)':<28} {floor:>10,.0f} req/s")
    print(f"{'textbook SimPy (random)':<28} {base:>10,.0f} req/s")
    for algorithm in args.algorithms:
        # each run right after a run of the heapq loop: the ratio of each pair,
        # as the load of a shared machine drifts less within a pair than a run
        rates, ratios, anchors = [], [], []
        for _ in range(args.repeat):
            anchors.append(heapq_loop(total, clock=clock))
            rates.append(lbsim_rate(algorithm, args.requests, args.warmup, clock)[0])
            ratios.append(rates[-1] / anchors[-1])
        rate = statistics.median(rates)
        memory = bytes_per_request(algorithm, args.requests, args.warmup)
        full = end_to_end_rate(algorithm, args.requests, args.warmup, clock)
        print(
            f"{'lbsim ' + algorithm:<28} {rate:>10,.0f} req/s  {rate / base:4.1f}x textbook"
            f"  {statistics.median(ratios):4.2f}x heapq (paired; best/best"
            f" {max(rates) / max(anchors):4.2f}x)"
            f"  {memory:6.0f} B/request  (lbsim.run end to end: {full:,.0f} req/s)"
        )


if __name__ == "__main__":
    main()
