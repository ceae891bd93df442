"""SIGINT and SIGTERM sent to ``lbsim run`` and ``lbsim sweep`` at several
points: exit 128 + signal, no temporary file, no worker left running, nothing
half-written, and a resumed sweep identical byte for byte to an uninterrupted one
(both in one process; the interrupted sweeps have two workers).

Each case is a real process (``python -m lbsim``) signalled from outside, as
a CI runner or ``kill`` does; worker processes are found in /proc before the
signal and must all be gone after.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lbsim.gate.baseline import CheckError, read_run
from lbsim.outputs import LOCK
from tests.conftest import scenario

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

# Two variants × four replications of 20 simulated minutes (~5,000 requests a run).
SWEEP = scenario(
    duration="20m",
    warmup="1m",
    **{
        "clients.arrivals.rate": 4.0,
        "servers.0.count": 4,
        "compare": {"balancer.algorithm": ["random", "least_connections"]},
        "sweep": {"replications": 4},
    },
)
TABLES = ("runs.parquet", "histograms.parquet", "sweep_summary.csv", "failures.csv")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
TIMEOUT = 240


def start(*args: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "lbsim", *map(str, args), "-q"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(*args: object) -> None:
    process = start(*args)
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err.decode()


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (workers, the resource tracker, forks)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert process.poll() is None, process.communicate()[1].decode()
        assert time.monotonic() < deadline, "the moment to signal never came"
        time.sleep(0.02)


def interrupt(process: subprocess.Popen[bytes], signum: int) -> tuple[set[int], str]:
    """Send ``signum``; the process must exit with 128 + signum, no traceback."""
    children = descendants(process.pid)
    process.send_signal(signum)
    _, err = process.communicate(timeout=TIMEOUT)
    text = err.decode()
    assert process.returncode == 128 + signum, text
    assert "Traceback" not in text and "interrupted" in text, text
    return children, text


def assert_clean(folder: Path, children: set[int]) -> None:
    deadline = time.monotonic() + 30
    while (alive := {p for p in children if Path(f"/proc/{p}").exists()}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not alive, f"processes left running: {alive}"
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The scenario and an uninterrupted sweep of it, in one process (results
    do not depend on the number of workers; one saves spawning two)."""
    root = tmp_path_factory.mktemp("signals")
    path = root / "s.yaml"
    path.write_text(json.dumps(SWEEP))
    finish("sweep", path, "-o", root / "whole", "-j", "1")
    return path, root / "whole"


def cached(folder: Path) -> Callable[[], bool]:
    return lambda: (folder / "runs").is_dir() and any((folder / "runs").glob("*.json"))


@pytest.mark.parametrize(
    ("signum", "moment"),
    [
        (signal.SIGTERM, "first cached run"),
        (signal.SIGINT, "first cached run"),
        (signal.SIGTERM, "workers starting"),
    ],
)
def test_interrupted_sweep_stops_its_workers_and_resumes_identically(
    reference: tuple[Path, Path], tmp_path: Path, signum: int, moment: str
) -> None:
    path, whole = reference
    out = tmp_path / "sweep"
    process = start("sweep", path, "-o", out, "-j", "2")
    if moment == "first cached run":
        wait_for(cached(out), process)
    else:  # the folder is claimed just before the workers get their runs
        wait_for(lambda: (out / LOCK).exists() and len(descendants(process.pid)) >= 2, process)
    children, err = interrupt(process, signum)
    assert "finished runs are kept" in err
    assert_clean(out, children)
    assert not (out / "sweep.json").exists()
    if moment != "first cached run":
        return
    finish("sweep", path, "-o", out, "-j", "1")  # the rest of the runs, in one process
    for name in TABLES:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A scenario of about a second's simulation, and a finished run of it (seed 1)."""
    root = tmp_path_factory.mktemp("rerun")
    path = root / "s.yaml"
    path.write_text(json.dumps(scenario(duration="4h", **{"clients.arrivals.rate": 4.0})))
    finish("run", path, "-o", root / "out", "--no-plots", "--seed", "1")
    return path, root / "out"


def holder(out: Path) -> str:
    try:
        return (out / LOCK).read_text()
    except OSError:
        return ""


@pytest.mark.parametrize(
    ("signum", "moment"),
    [
        (signal.SIGTERM, "simulating"),
        (signal.SIGINT, "writing"),
        (signal.SIGTERM, "writing"),
    ],
)
def test_interrupted_rerun_leaves_the_earlier_run_or_an_incomplete_folder(
    earlier_run: tuple[Path, Path], tmp_path: Path, signum: int, moment: str
) -> None:
    """Stopped while simulating, a re-run leaves the earlier run whole; stopped
    while writing (its report half drawn), the folder has no run.json, so no
    reader takes the files of two runs for one."""
    path, earlier = earlier_run
    out = Path(shutil.copytree(earlier, tmp_path / "out"))
    process = start("run", path, "-o", out, "--seed", "2")
    wait_for(lambda: f" {process.pid}" in holder(out), process)  # claimed: simulating
    if moment == "writing":  # run.json goes first, then the report is drawn
        wait_for(lambda: not (out / "run.json").exists(), process)
    children, err = interrupt(process, signum)
    assert_clean(out, children)
    if moment == "simulating":
        assert "nothing written" in err
        assert read_run(out).seed == 1  # every file checked against run.json
    else:
        assert "is incomplete (no run.json)" in err
        with pytest.raises(CheckError, match=r"missing .*run\.json"):
            read_run(out)
