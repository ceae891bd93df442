"""Output paths are checked before any work, an output folder is claimed
(locked) while a command writes it, and only lbsim's own files are replaced."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lbsim.runner.run
import lbsim.runner.sweep
from lbsim.cli import app
from lbsim.gate.baseline import read_run
from lbsim.outputs import LOCK
from tests.conftest import scenario

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
TINY = scenario(duration="5m", warmup="30s", **{"clients.arrivals.rate": 2.0})


def cli(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    text = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), text
    return result.exit_code, text


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a simulation starts."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated although the output was refused")

    monkeypatch.setattr(lbsim.runner.run, "run", refuse)
    monkeypatch.setattr(lbsim.runner.sweep, "sweep", refuse)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(TINY))
    return path


def test_run_and_sweep_outputs_are_refused_before_any_work(
    tiny: Path, tmp_path: Path, no_work: None
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("mine")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    (tmp_path / "movie.gif").mkdir()
    cases = [
        (["run", tiny, "-o", a_file], "is a file; give a folder"),
        (["run", tiny, "-o", a_file / "sub"], "is a file, not a folder"),
        (["run", tiny, "-o", theirs], "a folder lbsim did not write (it holds notes.txt)"),
        (["sweep", tiny, "-o", a_file], "is a file; give a folder"),
        (["sweep", tiny, "-o", theirs], "a folder lbsim did not write"),
        (["run", tiny, "-o", tmp_path / "new", "--animate", tmp_path / "movie.gif"], "is a folder"),
    ]
    for args, message in cases:
        code, text = cli(*args)
        assert code == 2 and message in text.replace("\n", ""), (args, text)
    assert a_file.read_text() == "mine" and (theirs / "notes.txt").read_text() == "mine"


def test_a_run_folder_is_not_a_sweep_folder(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # The default sweep folder, reports/<name>/sweep/, may come before the run's.
    lbsim.runner.sweep.sweep(TINY, replications=1, jobs=1, out=out / "sweep")
    code, text = cli("run", tiny, "-o", out, "-q", "--no-plots")
    assert code == 0, text
    assert (out / "sweep" / "sweep.json").is_file()  # left alone
    code, text = cli("sweep", tiny, "-o", out, "-q", "-j", "1")
    assert code == 2 and "an lbsim run folder, not a sweep folder" in text, text
    # An empty folder and lbsim's own run folder are fine for a run.
    (tmp_path / "empty").mkdir()
    assert cli("run", tiny, "-o", tmp_path / "empty", "-q", "--no-plots")[0] == 0
    assert cli("run", tiny, "-o", out, "-q", "--no-plots", "--seed", "5")[0] == 0
    assert read_run(out).seed == 5


def test_file_outputs_replace_only_lbsim_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "never_read"  # the outputs are refused first
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"")
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"mine": true}')
    cases = [
        (["check", run_dir, "-b", foreign, "--junit", folder], "--junit", "is a folder"),
        (["check", run_dir, "-b", foreign, "--markdown", foreign], "--markdown", "not written"),
        (["baseline", run_dir, "-o", foreign], "--out", "was not written by lbsim"),
        (["baseline", run_dir, "-o", folder], "--out", "is a folder"),
        (["diff", run_dir, run_dir, "--csv", foreign], "--csv", "was not written by lbsim"),
        (
            ["diff", run_dir, run_dir, "--plot", folder / "x.png" / "y.png"],
            "--plot",
            "x.png is a file",
        ),
    ]
    for args, option, message in cases:
        code, text = cli(*args)
        text = text.replace("\n", "")
        assert code == 2 and option in text and message in text, (args, text)
    assert foreign.read_text() == '{"mine": true}'


def test_an_empty_file_may_be_written(tmp_path: Path) -> None:
    """$GITHUB_STEP_SUMMARY exists (empty) before the step runs."""
    from lbsim.outputs import check_file

    summary = tmp_path / "step_summary"
    summary.touch()
    assert check_file(summary, "--markdown", b"lbsim check") == summary


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_folder_another_lbsim_writes_is_refused(tiny: Path, tmp_path: Path, command: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running lbsim holds it
        os.write(fd, f"{command} 4242\n".encode())
        code, text = cli(
            command, tiny, "-o", out, "-q", *(["-j", "1"] if command == "sweep" else [])
        )
        assert code == 2, text
        assert "another lbsim (pid 4242) is writing into this folder" in text.replace("\n", "")
    finally:
        os.close(fd)


def test_two_runs_into_one_folder_do_not_mix(tmp_path: Path) -> None:
    """Two processes: the second is refused at once while the first runs
    (held stopped once it has claimed the folder, so the two surely overlap),
    and the folder holds the first run's files, each matching run.json."""
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(TINY))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lbsim", "run", str(path), "-o", str(out), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(
        [*command, "--seed", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not (out / LOCK).exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGSTOP)
    try:
        second = subprocess.run(
            [*command, "--seed", "2"], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 2, second.stderr
    assert "another lbsim" in second.stderr and "is writing into this folder" in second.stderr
    assert read_run(out).seed == 1  # every file checked against run.json
