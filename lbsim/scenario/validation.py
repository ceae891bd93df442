"""Validating scenario data against the models, each pydantic error turned
into a :class:`Problem` at its file position or at the override it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lbsim.scenario import paths
from lbsim.scenario.errors import Problem, message
from lbsim.scenario.models import Scenario
from lbsim.scenario.source import Marks

MAX_PROBLEMS = 50  # reported at most per validation (a file may have thousands)


@dataclass(frozen=True)
class Origin:
    """Where a value came from: the file at a path, or a command-line option."""

    where: str
    mark: paths.FieldPath | None = None


def validate(
    data: dict[str, Any],
    source: str,
    marks: Marks,
    context: dict[str, Any],
    origins: dict[paths.FieldPath, Origin],
) -> tuple[Scenario | None, list[Problem]]:
    """Validate ``data``; a problem inside an overridden path is blamed on
    the origin of the override (``--set``, a ``compare:`` entry...);
    ``context`` holds the scenario's folder (``base_dir``) and whether files
    outside it may be read (``allow_outside_files``)."""
    try:
        return Scenario.model_validate(data, context=context), []
    except ValidationError as err:
        problems: list[Problem] = []
        errors = [(e, paths.data_path(e["loc"], data)) for e in err.errors()]
        for shown, (error, path) in enumerate(errors):
            if len(problems) == MAX_PROBLEMS:
                more = f"{len(errors) - shown} more problems not shown"
                problems.append(Problem(source, None, None, "", more))
                break
            if error["type"] == "too_short" and any(
                len(other) > len(path) and other[: len(path)] == path for _, other in errors
            ):
                continue  # a list emptied by its own invalid items: those are the news
            origin = next((o for p, o in origins.items() if path[: len(p)] == p), None)
            if origin is None:
                where, (line, col) = source, paths.position(marks, path)
            else:
                where = origin.where
                line, col = marks.get(origin.mark, (None, None)) if origin.mark else (None, None)
            unknown = error["type"] == "extra_forbidden" and path
            allowed = paths.allowed_keys(path[:-1], data) if unknown else []
            text = message(error, path[-1] if path else "", allowed)
            problems.append(Problem(where, line, col, paths.dotted(path) or "scenario", text))
        return None, problems
