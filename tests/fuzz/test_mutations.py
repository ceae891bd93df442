"""Schema-shaped mutations of every bundled scenario, validated in-process.

Each case takes a bundled scenario's data, and at one to three places of its
tree (any key or item, so every section and field the scenario uses is a
target) replaces the value with a hostile one (infinities, NaN, overflowing
or negative numbers, booleans, strings, markup, deep nesting, tags, 5,000
digits), deletes the key or adds an unknown one. The result must be exit 0
or exit 2 with located messages (tests/fuzz/common.py), in seconds.
Hypothesis runs derandomized, so the cases are the same on every run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from lbsim.scenario.source import parse
from tests.fuzz.common import SCENARIOS, check_outcome, fuzz_settings

CASES = 150  # about 25 s on one core

# placeholders dumped as plain strings, then replaced by text YAML cannot dump
RAW = {
    "__DEEP__": "[" * 5000 + "]" * 5000,
    "__DEEP_MAP__": "{a: " * 300 + "1" + "}" * 300,
    "__TAG_PYTHON__": "!!python/object/apply:os.system [echo]",
    "__TAG_CUSTOM__": "!custom x",
    "__TAG_BINARY__": "!!binary aGk=",
    "__TAG_SET__": "!!set {a, b}",
    "__DIGITS__": "9" * 5000,
    "__SELF__": "&self [*self]",
}
VALUES: list[Any] = [
    float("inf"),
    float("-inf"),
    float("nan"),
    "1e999s",
    "1e999/s",
    "-.inf",
    10**400,
    -(10**400),
    10**30,
    1e300,
    1e-300,
    -1,
    0,
    0.5,
    True,
    False,
    None,
    "",
    "x",
    "x[/]ok :x: [bold]",
    "../../etc/passwd",
    [],
    {},
    [1, 2],
    {"zz_unknown": 1},
    "-5m",
    "1us",
    "1000000h",
    "10000000k/s",
    *RAW,
]
TEXTS = {path: path.read_text() for path in SCENARIOS}


def _places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and item path of a document."""
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _places(value, (*path, index))
    return found


def _mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "unknown" and isinstance(parent[last], dict):
        parent[last]["zz_unknown"] = value
    else:
        parent[last] = copy.deepcopy(value)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Path, str]:
    source = draw(st.sampled_from(SCENARIOS))
    data, _ = parse(TEXTS[source])
    for _ in range(draw(st.integers(1, 3))):
        places = _places(data)
        if not places:
            break
        path = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "unknown"]))
        _mutate(data, path, action, draw(st.sampled_from(VALUES)))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    for placeholder, raw in RAW.items():
        text = text.replace(placeholder, raw)
    return source, text


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutations")


def test_every_bundled_scenario_is_valid_unmutated(folder: Path) -> None:
    for source in SCENARIOS:
        assert check_outcome(source) == 0, source


@fuzz_settings(CASES)
@given(case=mutated())
def test_mutated_scenarios_exit_0_or_2_with_a_located_message(
    folder: Path, case: tuple[Path, str]
) -> None:
    source, text = case
    path = folder / source.name
    path.write_text(text)
    check_outcome(path)
