"""Loading a scenario: file, YAML text or dict -> ``--set`` overrides ->
validated base scenario -> variants, every problem collected."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbsim.scenario import files, paths
from lbsim.scenario.errors import Problem, ScenarioError, did_you_mean
from lbsim.scenario.models import Scenario
from lbsim.scenario.source import MAX_BYTES, Marks, YamlError, parse
from lbsim.scenario.validation import Origin, validate
from lbsim.scenario.variants import Variant, axes, expand, too_many


@dataclass(frozen=True)
class Loaded:
    """A validated scenario file: the base scenario and its variants."""

    source: str
    base: Scenario
    variants: list[Variant] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    base_dir: Path = Path(".")  # absolute folder its file names are relative to


def load(
    path: str | Path | None = None,
    *,
    text: str | None = None,
    data: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    grid: dict[str, list[Any]] | None = None,
    allow_outside_files: bool = False,
    base_dir: Path | None = None,
) -> Loaded:
    """Read, validate and expand a scenario from a file, YAML text or a dict.

    ``overrides`` maps dotted paths to values (what ``--set`` does); ``grid``
    maps dotted paths to lists of values that are varied on top of
    ``compare:`` (what ``--grid`` does). Files the scenario names are read
    relative to ``base_dir``: by default the file's folder, or the working
    directory for text and dicts; they must lie inside it unless
    ``allow_outside_files``. Raises :class:`ScenarioError` with
    every problem found.
    """
    source = str(path) if path is not None else "<scenario>"
    marks: Marks = {}
    if base_dir is None:
        base_dir = Path(path).parent if path is not None else Path(".")
    if data is None:
        if text is None:
            assert path is not None
            text = _read(Path(path), source)
        try:
            data, marks = parse(text)
        except YamlError as err:
            raise ScenarioError([Problem(source, err.line, err.col, "", err.message)]) from None
    if data is None:
        raise ScenarioError(
            [Problem(source, 1, 1, "", "the file is empty; a scenario is a mapping")]
        )
    if not isinstance(data, dict):
        raise ScenarioError([Problem(source, 1, 1, "", "a scenario must be a mapping of keys")])
    data = copy.deepcopy(data)

    problems: list[Problem] = []
    origins: dict[paths.FieldPath, Origin] = {}
    for dotted, value in (overrides or {}).items():
        key = paths.split(dotted)
        exists, unknown, allowed = paths.exists(key)
        if not exists:
            hint = did_you_mean(unknown, allowed)
            problems.append(Problem("--set", None, None, dotted, f"no such field{hint}"))
            continue
        try:
            paths.set_value(data, key, value)
            origins[key] = Origin("--set")
        except ValueError as err:
            problems.append(Problem("--set", None, None, dotted, str(err)))

    _pin_compared(data, overrides or {})
    varied, axis_problems = axes(data, source, marks, grid)
    problems += axis_problems
    problems += too_many(varied, source)
    context = {"base_dir": base_dir, "allow_outside_files": allow_outside_files}
    base, base_problems = validate(data, source, marks, context, origins)
    problems += base_problems
    if problems or base is None:
        raise ScenarioError(problems)
    variants, problems = expand(data, varied, base.name, source, marks, context, origins)
    if problems:
        raise ScenarioError(problems)
    return Loaded(source, base, variants, data, base_dir.resolve())


def _pin_compared(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    """An override of a field that ``compare:`` (or ``sweep.grid``) varies
    picks that one value, so only the variant asked for runs
    (``run("algorithms.yaml", balancer__algorithm="random")`` runs random
    alone, still named ``random``); overriding a whole section drops the
    axes inside it."""
    sweep = data.get("sweep") if isinstance(data.get("sweep"), dict) else {}
    for mapping in (data.get("compare"), (sweep or {}).get("grid")):
        if not isinstance(mapping, dict):
            continue
        for varied in list(mapping):
            if varied in overrides:
                mapping[varied] = [overrides[varied]]
            elif any(str(varied).startswith(f"{o}.") for o in overrides):
                del mapping[varied]


def _read(path: Path, source: str) -> str:
    try:
        return files.read_text(path, MAX_BYTES)
    except files.FileError as err:
        raise ScenarioError([Problem(source, None, None, "", str(err))]) from None
