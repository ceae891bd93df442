"""Benchmark: the CLI's fixed costs, each command in a fresh interpreter.

Times ``lbsim --version``, ``lbsim schema``, ``lbsim validate`` and a tiny
``lbsim run`` (black_friday for one simulated minute, with and without
plots) as the console script runs them (``from lbsim.cli import main;
main()``), best of ``--repeat``, wall seconds and CPU seconds (user + system
of the process and its children). Byte-code is compiled first, as an
installed package has it.

    python bench/startup.py                 # the README's figures
    python bench/startup.py --repeat 10 --only version schema validate
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ["scenarios/black_friday.yaml", "--set", "duration=1m", "-q"]
COMMANDS = {
    "version": ["--version"],
    "schema": ["schema"],
    "validate": ["validate", "scenarios/black_friday.yaml"],
    "run --no-plots": ["run", *TINY, "--no-plots"],
    "run": ["run", *TINY],
}
CONSOLE_SCRIPT = "import sys; from lbsim.cli import main; sys.argv[0] = 'lbsim'; main()"


def _once(args: list[str], out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one command (run folders go under ``out``)."""
    if args[0] == "run":
        args = [*args, "-o", str(out / f"run{time.monotonic_ns()}")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", CONSOLE_SCRIPT, *args],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    options = parser.parse_args()
    compileall.compile_dir(ROOT / "lbsim", quiet=1)
    print(f"{'command':<16} {'wall s (best)':>14} {'CPU s (best)':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in options.only:
            times = [_once(COMMANDS[name], Path(tmp)) for _ in range(options.repeat)]
            wall = min(t[0] for t in times)
            cpu = min(t[1] for t in times)
            print(f"lbsim {name:<10} {wall:>14.3f} {cpu:>13.3f}", flush=True)


if __name__ == "__main__":
    main()
