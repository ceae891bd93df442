"""The run cache: a damaged entry is recomputed with a warning, never reused."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

from lbsim.io import OutputError
from lbsim.runner import cache
from lbsim.runner.sweep import SweepResult, sweep
from tests.conftest import scenario

# Two variants × two replications of five simulated minutes (~600 requests a run).
TINY = scenario(
    duration="5m",
    warmup="30s",
    **{
        "clients.arrivals.rate": 2.0,
        "servers.0.count": 2,
        "compare": {"balancer.algorithm": ["random", "least_connections"]},
    },
)
TABLES = ("runs", "summary", "histograms", "failures")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SweepResult]:
    out = tmp_path_factory.mktemp("cache") / "sweep"
    return out, sweep(TINY, replications=2, jobs=1, out=out)


def _entry(out: Path) -> Path:
    return sorted((out / "runs").glob("*.json"))[0]


def _edit_p99(path: Path) -> None:
    record = json.loads(path.read_text())
    record["metrics"]["latency_p99"] *= 0.5  # a faster p99, checksum left as it was
    path.write_text(json.dumps(record))


def _out_of_range(path: Path) -> None:
    """error_rate 1.5 with a matching checksum: only the range check can catch it."""
    record = json.loads(path.read_text())
    record["metrics"]["error_rate"] = 1.5
    body = {k: v for k, v in record.items() if k != "checksum"}
    record["checksum"] = cache._checksum(body)
    path.write_text(json.dumps(record))


def _negative_slot(path: Path) -> None:
    record = json.loads(path.read_text())
    record["histogram"]["slots"][0] = -3
    body = {k: v for k, v in record.items() if k != "checksum"}
    record["checksum"] = cache._checksum(body)
    path.write_text(json.dumps(record))


DAMAGE: dict[str, tuple[Callable[[Path], object], str]] = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "invalid JSON"),
    "emptied": (lambda p: p.write_bytes(b""), "invalid JSON"),
    "edited p99": (_edit_p99, "checksum differs"),
    "out of range": (_out_of_range, "metrics.error_rate: 1.5 is above 1"),
    "bad histogram": (_negative_slot, "histogram: slot out of range"),
    "a list": (lambda p: p.write_text("[1, 2]"), "not a JSON object"),
    "deep nesting": (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "nested too deep"),
    "not UTF-8": (lambda p: p.write_bytes(b"\xff\xfe{}"), "not UTF-8"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_entry_is_rerun_with_a_warning(
    reference: tuple[Path, SweepResult], tmp_path: Path, damage: str
) -> None:
    source, expected = reference
    out = tmp_path / "sweep"
    shutil.copytree(source, out)
    entry = _entry(out)
    corrupt, reason = DAMAGE[damage]
    corrupt(entry)
    warnings: list[str] = []
    again = sweep(TINY, replications=2, jobs=1, out=out, warn=warnings.append)
    assert (again.meta["ran"], again.meta["reused"]) == (1, 3)
    assert len(warnings) == 1 and str(entry) in warnings[0] and reason in warnings[0], warnings
    for name in TABLES:  # recomputed: the same numbers as before the damage
        assert_frame_equal(getattr(again, name), getattr(expected, name), check_exact=True)
    # ...and the entry is whole again: a third sweep reuses all four, silently.
    warnings.clear()
    third = sweep(TINY, replications=2, jobs=1, out=out, warn=warnings.append)
    assert (third.meta["ran"], third.meta["reused"], warnings) == (0, 4, [])


def test_an_entry_of_another_run_is_not_reused(
    reference: tuple[Path, SweepResult], tmp_path: Path
) -> None:
    """An intact entry copied under another run's name: its key gives it away."""
    source, _ = reference
    out = tmp_path / "sweep"
    shutil.copytree(source, out)
    first, second = sorted((out / "runs").glob("*.json"))[:2]
    shutil.copy(first, second)
    warnings: list[str] = []
    again = sweep(TINY, replications=2, jobs=1, out=out, warn=warnings.append)
    assert again.meta["ran"] == 1
    assert len(warnings) == 1 and "key:" in warnings[0]


def test_runs_being_a_file_is_reported(reference: tuple[Path, SweepResult], tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(reference[0], out)
    shutil.rmtree(out / "runs")
    (out / "runs").write_text("not a folder")
    with pytest.raises(OutputError, match="runs: is a file"):
        sweep(TINY, replications=1, jobs=1, out=out)
