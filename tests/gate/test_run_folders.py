"""Run folders and baselines read by check, diff, report and baseline: a
damaged, stale or mixed input is refused with the file and field, exit 2."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lbsim
import lbsim.runner.run
from lbsim.cli import app
from lbsim.io import file_digest
from tests.conftest import scenario

runner = CliRunner()
# Two variants, five simulated minutes: ~600 requests a run.
TINY = scenario(
    duration="5m",
    warmup="30s",
    **{
        "clients.arrivals.rate": 2.0,
        "servers.0.count": 2,
        "compare": {"balancer.algorithm": ["random", "least_connections"]},
    },
)


def cli(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    text = result.stdout + result.stderr
    assert "Traceback" not in text and not isinstance(result.exception, AssertionError), text
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, text


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("folders")
    table = lbsim.runner.run.replicate(TINY, 2)
    lbsim.run(TINY).save(root / "run", replications=table)
    lbsim.run(TINY, seed=2).save(root / "other", replications=table)
    code, text = cli("baseline", root / "run", "-o", root / "base.json")
    assert code == 0, text
    return {"run": root / "run", "other": root / "other", "baseline": root / "base.json"}


def copy(saved: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved["run"], tmp_path / "run"))


def resign(folder: Path) -> None:
    """Record the current checksums in run.json, as if lbsim had written the files."""
    meta = json.loads((folder / "run.json").read_text())
    meta["files"] = {n: file_digest(folder / n) for n in meta["files"] if (folder / n).exists()}
    (folder / "run.json").write_text(json.dumps(meta))


def edit_csv(folder: Path, name: str, change: Callable[[list[str]], list[str]]) -> None:
    path = folder / name
    path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")
    resign(folder)


def _meta(folder: Path, **fields: object) -> None:
    meta = json.loads((folder / "run.json").read_text())
    meta.update(fields)
    (folder / "run.json").write_text(json.dumps(meta))


def _column(lines: list[str], name: str, value: str) -> list[str]:
    index = lines[0].split(",").index(name)
    cells = lines[1].split(",")
    cells[index] = value
    return [lines[0], ",".join(cells), *lines[2:]]


DAMAGE: dict[str, tuple[Callable[[Path], object], str]] = {
    "run.json a list": (
        lambda f: (f / "run.json").write_text("[1, 2]"),
        "run.json: expected a JSON object, found list",
    ),
    "run.json nested 100,000 deep": (
        lambda f: (f / "run.json").write_text("[" * 100_000 + "]" * 100_000),
        "run.json: nested too deep",
    ),
    "run.json without a file list": (
        lambda f: (f / "run.json").write_text('{"name": "test"}'),
        "run.json: field files: missing",
    ),
    "run.json name a number": (lambda f: _meta(f, name=5), "run.json: name: expected text"),
    "run.json seed text": (lambda f: _meta(f, seed="x"), "run.json: seed: expected an integer"),
    "summary edited": (
        lambda f: (f / "summary.csv").write_text("variant,latency_p99\nrandom,0.001\n"),
        "summary.csv: changed since lbsim wrote it",
    ),
    "summary without variant": (
        lambda f: edit_csv(f, "summary.csv", lambda ls: [ls[0].replace("variant", "v"), *ls[1:]]),
        "summary.csv: no 'variant' column",
    ),
    "summary variant twice": (
        lambda f: edit_csv(f, "summary.csv", lambda ls: [ls[0], ls[1], ls[1]]),
        "summary.csv: variant: random appears twice",
    ),
    "replications seed empty": (
        lambda f: edit_csv(f, "replications.csv", lambda ls: _column(ls, "seed", "")),
        "replications.csv: seed: empty in row 0",
    ),
    "replications seed text": (
        lambda f: edit_csv(f, "replications.csv", lambda ls: _column(ls, "seed", "abc")),
        "replications.csv: seed: expected integers, found 'abc'",
    ),
    "replications without variant": (
        lambda f: edit_csv(
            f, "replications.csv", lambda ls: [ls[0].replace("variant", "v"), *ls[1:]]
        ),
        "replications.csv: no variant column",
    ),
    "replications row twice": (
        lambda f: edit_csv(f, "replications.csv", lambda ls: [*ls, ls[1]]),
        "replications.csv: variant random, replication 0 appears twice",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_run_folder_is_refused_by_every_reader(
    saved: dict[str, Path], tmp_path: Path, damage: str
) -> None:
    folder = copy(saved, tmp_path)
    corrupt, message = DAMAGE[damage]
    corrupt(folder)
    commands: list[list[object]] = [
        ["check", folder, "--baseline", saved["baseline"]],
        ["diff", saved["run"], folder, "--plot", tmp_path / "d.png"],
        ["baseline", folder, "-o", tmp_path / "b.json"],
    ]
    if "replications" not in damage:  # report does not read replications.csv
        commands.append(["report", folder, "-o", tmp_path / "report"])
    for command in commands:
        code, text = cli(*command)
        assert code == 2, (command, text)
        assert message in text.replace("\n", ""), (command, text)


def test_files_of_another_run_are_refused(saved: dict[str, Path], tmp_path: Path) -> None:
    """A summary of one run beside the run.json of another, and a
    replications.csv left from an earlier run: neither passes for this run."""
    mixed = copy(saved, tmp_path)
    shutil.copy(saved["other"] / "summary.csv", mixed / "summary.csv")
    code, text = cli("check", mixed, "--baseline", saved["baseline"])
    assert code == 2 and "summary.csv: changed since lbsim wrote it" in text, text

    stale = tmp_path / "stale"
    lbsim.run(TINY).save(stale)  # no replications: run.json lists none
    shutil.copy(saved["run"] / "replications.csv", stale / "replications.csv")
    code, text = cli("check", stale, "--baseline", saved["baseline"])
    assert code == 2 and "replications.csv: not part of this run" in text, text


def test_rerun_without_replications_drops_the_old_ones(tmp_path: Path) -> None:
    """The case of a 3.3x slower model passing: replications.csv of an earlier
    run must not survive a run into the same folder."""
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(TINY))
    out = tmp_path / "out"
    code, text = cli("run", path, "-o", out, "-q", "--no-plots", "--replications", "2")
    assert code == 0 and (out / "replications.csv").is_file(), text
    code, text = cli("run", path, "-o", out, "-q", "--no-plots", "--set", "servers.0.speed=0.3")
    assert code == 0, text
    assert not (out / "replications.csv").exists()
    assert "replications.csv" not in json.loads((out / "run.json").read_text())["files"]


BASELINE_DAMAGE: dict[str, tuple[str, str]] = {
    "a JSON list": ("[1, 2]", "not an lbsim baseline"),
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "nested too deep"),
    "a variant twice": ("DUP", "key 'random' appears twice"),
    "empty seeds": ("SEEDS:[]", "replications.seeds: expected a non-empty list of integers"),
    "text seeds": ('SEEDS:["1", "2"]', "replications.seeds: expected a non-empty list"),
    "a metric as text": ("P99", "variants.random.latency_p99: expected a number or null"),
}


def _baseline_text(original: str, change: str) -> str:
    data = json.loads(original)
    if change == "DUP":
        text = json.dumps(data["variants"]["random"])
        return original.replace('"variants": {', f'"variants": {{"random": {text},', 1)
    if change.startswith("SEEDS:"):
        data["replications"]["seeds"] = json.loads(change.removeprefix("SEEDS:"))
        return json.dumps(data)
    if change == "P99":
        data["variants"]["random"]["latency_p99"] = "fast"
        return json.dumps(data)
    return change


@pytest.mark.parametrize("damage", list(BASELINE_DAMAGE))
def test_damaged_baseline_is_refused(saved: dict[str, Path], tmp_path: Path, damage: str) -> None:
    change, message = BASELINE_DAMAGE[damage]
    path = tmp_path / "base.json"
    path.write_text(_baseline_text(saved["baseline"].read_text(), change))
    code, text = cli("check", saved["run"], "--baseline", path)
    assert code == 2 and message in text.replace("\n", ""), text
