"""Benchmark: the cost of many small runs in one process, as a sweep worker makes them.

``--seeds`` x 5 replications of an M/M/1 queue at utilisation 0.5 (1,000
simulated seconds at 0.5/s after a 60 s warm-up: about 500 requests a run),
swept in this process (``jobs=1``) with pandas and scipy.stats loaded, as a
sweep worker has them. Prints the CPU milliseconds a run and the peak
resident memory. Run it in two checkouts to compare them (CPU time, so a
loaded machine matters less than for wall time).

    python bench/sweep_runs.py
    python bench/sweep_runs.py --seeds 20
"""

from __future__ import annotations

import argparse
import resource
import time

import pandas  # noqa: F401  (loaded, as in a sweep worker)
import scipy.stats  # noqa: F401

from lbsim.runner.sweep import sweep

REPLICATIONS = 5
MM1 = {
    "name": "mm1",
    "seed": 1,
    "duration": "1000s",
    "warmup": "60s",
    "clients": {
        "count": 100,
        "arrivals": {"process": "poisson", "rate": 0.5},
        "service": {"dist": "exponential", "mean": 1.0},
    },
    "servers": [{"name": "web", "count": 1, "workers": 1}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    sweep(MM1, replications=REPLICATIONS, grid={"seed": [10_000]}, jobs=1)  # warm up
    started = time.process_time()
    sweep(MM1, replications=REPLICATIONS, grid={"seed": list(range(args.seeds))}, jobs=1)
    runs = REPLICATIONS * args.seeds
    per_run = (time.process_time() - started) / runs
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{runs} runs: {per_run * 1000:.1f} ms CPU a run, peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
