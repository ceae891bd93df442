"""What is wrong with a scenario: :class:`Problem`, :class:`ScenarioError`
and the wording of each pydantic error (with "did you mean" hints)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, where it is and what is allowed."""

    file: str
    line: int | None
    col: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.col}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """Every problem found in a scenario (the CLI prints them and exits 2)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def did_you_mean(word: str, options: Sequence[str]) -> str:
    """``"; did you mean 'workers'?"`` for a near miss, else ``""``."""
    prefixed = [o for o in options if o.startswith(word) or word.startswith(o)] if word else []
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5) or prefixed[:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def message(error: Any, key: str | int, allowed: Sequence[str]) -> str:
    """The wording of one pydantic error; ``key`` is the last part of its
    path and ``allowed`` the keys allowed beside it (for unknown keys)."""
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return (
            f"unknown key {key!r}{did_you_mean(str(key), allowed)} (allowed: {', '.join(allowed)})"
        )
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        tags = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
        hint = did_you_mean(str(ctx.get("tag")), tags)
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return f"unknown {field} {ctx.get('tag')!r}{hint} (allowed: {', '.join(tags)})"
    if kind == "finite_number":
        return "must be a finite number (not .inf or .nan)"
    return str(msg).removeprefix("Value error, ")
