"""The committed lesson notebooks: no outputs, built from their sources, and
each lesson ends with 2-4 exercises whose hidden solution calls its check.

Executing them is .ci/run's notebook step (``pytest --nbmake notebooks/``)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from notebooks import build

NOTEBOOKS = sorted(build.HERE.glob("*.ipynb"))
LESSONS = [
    "01_why_load_balancing",
    "02_algorithms",
    "03_health_checks",
    "04_failover_and_retries",
    "05_sessions",
    "06_l4_l7_tls",
    "07_beyond_round_robin",
    "08_global_balancing",
    "09_autoscaling_vs_load_balancing",
    "10_reading_results",
]


def test_every_lesson_has_a_source_and_a_notebook() -> None:
    assert [p.stem for p in NOTEBOOKS] == LESSONS
    assert sorted(p.stem for p in build.SOURCES.glob("*.py")) == LESSONS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for index, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {index} has outputs: clear them"
            assert cell.execution_count is None, f"{path.name} cell {index} was executed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_what_its_source_builds(path: Path) -> None:
    source = build.SOURCES / f"{path.stem}.py"
    assert path.read_text() == build.text(source), (
        f"{path.name} differs from {source.name}: run python notebooks/build.py"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_two_to_four_exercises_each_checked_in_a_hidden_solution(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    lesson = path.stem[:2]
    solutions = [c for c in book.cells if "solution" in c.metadata.get("tags", [])]
    assert 2 <= len(solutions) <= 4
    for number, cell in enumerate(solutions, start=1):
        assert cell.metadata["jupyter"]["source_hidden"] is True
        assert re.search(rf"^check_{lesson}_ex{number}\(", cell.source, re.MULTILINE), (
            f"solution {number} of {path.name} does not call check_{lesson}_ex{number}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_only_the_public_api(path: Path) -> None:
    """Lessons import lbsim, lbsim.analysis.theory and the answers, nothing internal."""
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    imported = set(re.findall(r"^(?:from|import) (lbsim[\w.]*)", code, re.MULTILINE))
    assert imported <= {"lbsim", "lbsim.analysis"}, imported
    assert not re.search(r"from lbsim\.analysis import (?!theory$)", code, re.MULTILINE)
