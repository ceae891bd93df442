"""``--grid path=values``: the values are one YAML flow sequence.

``clients.arrivals.rate=[1/s, 2/s]`` and the bracket-less
``clients.arrivals.rate=1/s, 2/s`` (read as if bracketed) both give two
values; quoted strings may hold commas and items may be flow mappings
(``balancer.algorithm=[round_robin, {name: power_of_two, choices: 3}]``).
The text is read by the scenario reader (:mod:`lbsim.scenario.source`), so
values mean what they would mean in a scenario file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lbsim.scenario import Problem, ScenarioError
from lbsim.scenario.source import YamlError, parse

USAGE = "expected path=value1,value2,..., e.g. clients.arrivals.rate=50,60,70"


def parse_values(text: str) -> list[Any]:
    """The values of one ``--grid`` assignment; raises ValueError saying where
    in ``text`` the problem is."""
    bracketed = text.lstrip().startswith("[")
    document = text if bracketed else f"[{text}]"
    try:
        values, _ = parse(document)
    except YamlError as error:
        message, where = error.message, ""
        if error.line == 1 and error.col is not None:
            column = error.col if bracketed else error.col - 1
            where = " at the end" if column > len(text) else f" at character {max(column, 1)}"
            if text[column - 1 : column] == ",":
                message = "empty value (two commas in a row, or a comma first?)"
        shown = text if len(text) <= 60 else f"{text[:60]}... ({len(text)} characters)"
        raise ValueError(f"{message}{where} of {shown!r}") from None
    if not isinstance(values, list):
        raise ValueError(f"{text!r} is not a sequence")
    return values


def parse_grid(assignments: Sequence[str]) -> dict[str, list[Any]]:
    """``["clients.arrivals.rate=[50, 60/s]"]`` -> ``{"clients.arrivals.rate": [50, "60/s"]}``.

    Raises :class:`ScenarioError` with every problem found.
    """
    grid: dict[str, list[Any]] = {}
    problems: list[Problem] = []
    for assignment in assignments:
        path, eq, text = assignment.partition("=")
        path = path.strip()
        if not eq or not path:
            problems.append(Problem("--grid", None, None, assignment, USAGE))
            continue
        try:
            values = parse_values(text)
        except ValueError as error:
            problems.append(Problem("--grid", None, None, path, f"cannot read values: {error}"))
            continue
        if path in grid:
            problems.append(Problem("--grid", None, None, path, "given more than once"))
            continue
        grid[path] = values
    if problems:
        raise ScenarioError(problems)
    return grid
