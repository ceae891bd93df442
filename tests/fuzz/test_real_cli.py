"""A few hostile inputs through the real ``lbsim`` command (a fresh
interpreter), where a hang or a crash would show as it would to a user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.common import ROOT, assert_located

GOOD = (ROOT / "scenarios" / "algorithms.yaml").read_text()


def lbsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lbsim", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real")


def test_a_fifo_does_not_block(folder: Path) -> None:
    fifo = folder / "pipe.yaml"
    os.mkfifo(fifo)
    done = lbsim("validate", str(fifo))
    assert done.returncode == 2 and "a FIFO (named pipe), not a regular file" in done.stderr


def test_dev_zero_is_refused_at_once() -> None:
    done = lbsim("validate", "/dev/zero")
    assert done.returncode == 2 and "a character device" in done.stderr


def test_deep_nesting_and_tags(folder: Path) -> None:
    path = folder / "deep.yaml"
    path.write_text("x: " + "[" * 5000 + "]" * 5000 + "\nseed: !!python/name:os.system x\n")
    done = lbsim("validate", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert_located(done.stderr, str(path))


@pytest.mark.parametrize("name", ["x[/]ok.yaml", "c:x:d.yaml", "[bold]b[/bold].yaml"])
def test_file_names_are_printed_literally(folder: Path, name: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(GOOD)
    done = lbsim("validate", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{path}: ok"), done.stdout


def test_an_integer_past_the_digit_limit_is_a_clear_error() -> None:
    done = lbsim("validate", "scenarios/algorithms.yaml", "--set", "seed=" + "9" * 5000)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--set: seed: an integer of 5000 digits is too large" in done.stderr
