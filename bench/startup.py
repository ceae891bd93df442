"""Benchmark: the CLI's fixed costs, each command in a fresh interpreter.

Times ``lbsim --version``, ``lbsim schema``, ``lbsim validate`` and a tiny
``lbsim run`` (bench/tiny.yaml: two variants of a minute at 20/s, with and
without plots) as the console script runs them (``from lbsim.cli import
main; main()``), best of ``--repeat``, wall seconds and CPU seconds (user +
system of the process and its children). Byte-code is compiled first, as an
installed package has it. With ``--against DIR`` (another checkout, e.g. a
``git worktree`` of main) each command runs with that tree's ``lbsim`` too,
alternating, so that both see the same machine load; the ratio is new / old.

    python bench/startup.py                 # the README's figures
    python bench/startup.py --repeat 10 --only version schema validate
    python bench/startup.py --against ../lbsim-main
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
TINY = ["bench/tiny.yaml", "-q"]
COMMANDS = {
    "version": ["--version"],
    "schema": ["schema"],
    "validate": ["validate", "scenarios/black_friday_single_region.yaml"],
    "run --no-plots": ["run", *TINY, "--no-plots"],
    "run": ["run", *TINY],
}
CONSOLE_SCRIPT = "import sys; from lbsim.cli import main; sys.argv[0] = 'lbsim'; main()"


def _once(args: list[str], out: Path, tree: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one command with the ``lbsim`` of ``tree`` (run
    folders go under ``out``)."""
    if args[0] == "run":
        args = [*args, "-o", str(out / f"run{time.monotonic_ns()}")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-P", "-c", CONSOLE_SCRIPT, *args],  # -P: not the cwd first
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _best(times: list[tuple[float, float]]) -> tuple[float, float]:
    return min(t[0] for t in times), min(t[1] for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    parser.add_argument("--against", type=Path, help="another checkout to time alternately")
    options = parser.parse_args()
    trees = [ROOT] + ([options.against.resolve()] if options.against else [])
    for tree in trees:
        compileall.compile_dir(tree / "lbsim", quiet=1)
    heading = f"{'command':<20} {'wall s':>8} {'CPU s':>8}"
    if options.against:
        heading += f" {'old wall':>9} {'old CPU':>8} {'wall new/old':>13} {'CPU new/old':>12}"
    print(heading + "   (best of each)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in options.only:
            times: list[list[tuple[float, float]]] = [[] for _ in trees]
            for _ in range(options.repeat):
                for i, tree in enumerate(trees):
                    times[i].append(_once(COMMANDS[name], Path(tmp), tree))
            wall, cpu = _best(times[0])
            line = f"lbsim {name:<14} {wall:>8.3f} {cpu:>8.3f}"
            if options.against:
                old_wall, old_cpu = _best(times[1])
                line += f" {old_wall:>9.3f} {old_cpu:>8.3f} {wall / old_wall:>13.2f}"
                line += f" {cpu / old_cpu:>12.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
