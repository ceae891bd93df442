"""Files a scenario names (issue 15 §4): read from the scenario's folder
only (unless allowed), regular files only, never echoed in a message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lbsim.scenario import ScenarioError, load

TEXT = """\
duration: 10m
clients:
  arrivals: {rate: 5/s}
  service: {dist: empirical, file: FILE}
servers: [{name: web}]
"""
SECRET = "s3cr3t-row"


def scenario(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "s.yaml"
    path.write_text(TEXT.replace("FILE", name))
    return path


def refusal(path: Path, **options: bool) -> str:
    with pytest.raises(ScenarioError) as caught:
        load(path, **options)
    return str(caught.value)


def test_a_file_beside_the_scenario_is_read_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ms.csv").write_text("latency\n0.1\n0.3\n")
    base = load(scenario(tmp_path, "data/ms.csv")).base
    assert base.clients.service.values == (0.1, 0.3)


@pytest.mark.parametrize("name", ["../outside.csv", "OUTSIDE", "link.csv"])
def test_a_file_outside_the_folder_needs_the_flag(tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text(f"{SECRET}\n0.5\n")
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "link.csv").symlink_to(outside)
    path = scenario(folder, name.replace("OUTSIDE", str(outside)))
    message = refusal(path)
    assert "outside the scenario's folder" in message and "--allow-outside-files" in message
    assert SECRET not in message
    assert load(path, allow_outside_files=True).base.clients.service.values == (0.5,)


def test_contents_are_never_printed(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text(f"0.1\n{SECRET}\n")
    (tmp_path / "header.csv").write_text(f"{SECRET}\n0.1\n")
    message = refusal(scenario(tmp_path / "a", "../rows.csv"), allow_outside_files=True)
    assert "row 2 is not a duration" in message and SECRET not in message
    text = TEXT.replace("FILE", "header.csv, column: nope")
    (tmp_path / "s.yaml").write_text(text)
    message = refusal(tmp_path / "s.yaml")
    assert "not in the header" in message and SECRET not in message


@pytest.mark.parametrize("name", ["/etc/passwd", "/proc/self/environ", "/dev/zero"])
def test_system_files_are_refused_even_when_allowed_if_not_regular(
    tmp_path: Path, name: str
) -> None:
    if not Path(name).exists():
        pytest.skip(f"no {name} here")
    assert "outside" in refusal(scenario(tmp_path, name))
    if name != "/etc/passwd":  # /proc files and devices are not regular files
        message = refusal(scenario(tmp_path, name), allow_outside_files=True)
        assert "not a regular file" in message and "PATH=" not in message


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")  # reading it would wait for a writer forever
    assert "a FIFO (named pipe), not a regular file" in refusal(scenario(tmp_path, "pipe.csv"))
