"""Benchmark: peak memory of a W1 run by number of requests and records mode.

W1 as in bench/w1.py (8 servers x 1 worker, Poisson 7.2/s, exponential 1 s,
random), run through ``lbsim.run`` with ``records`` = all / sample / none.
Each measurement is a fresh process (``--one``), which reports its own peak
resident set size (``resource.getrusage``, ``ru_maxrss``) and wall time, so
one run's leftovers never count towards the next.

    python bench/memory.py --requests 1000000 3000000 10000000 --records all none
    python bench/memory.py --one 1000000 none       # a single measurement
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

RATE = 7.2


def scenario(requests: int, records: str) -> dict[str, object]:
    options = {} if records == "all" else {"records": records}  # "all": the default
    return {
        **options,
        "name": "w1",
        "seed": 1,
        "duration": requests / RATE,
        "sample_interval": requests / RATE / 500,
        "clients": {
            "arrivals": {"process": "poisson", "rate": RATE},
            "service": {"dist": "exponential", "mean": 1.0},
        },
        "balancer": {"algorithm": "random"},
        "servers": [{"name": "web", "count": 8, "workers": 1}],
    }


def one(requests: int, records: str) -> dict[str, float]:
    import lbsim

    started = time.perf_counter()
    result = lbsim.run(scenario(requests, records))
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "requests": int(result.summary["requests"].iloc[0]),
        "records": records,
        "rows": len(result.requests),
        "peak_mib": peak_kib / 1024,
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, nargs="+", default=[1_000_000, 3_000_000])
    parser.add_argument("--records", nargs="+", default=["all", "none"])
    parser.add_argument("--one", nargs=2, metavar=("REQUESTS", "RECORDS"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.one[1])))
        return
    print(f"{'requests':>11} {'records':>7} {'rows':>11} {'peak MiB':>9} {'wall s':>7}")
    for records in args.records:
        for requests in args.requests:
            command = [sys.executable, __file__, "--one", str(requests), records]
            line = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            row = json.loads(line.strip().splitlines()[-1])
            print(
                f"{row['requests']:>11,} {records:>7} {row['rows']:>11,} "
                f"{row['peak_mib']:>9.0f} {row['wall_s']:>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
