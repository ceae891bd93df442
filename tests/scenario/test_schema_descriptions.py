"""The JSON Schema helps editors: every property described, algorithm names an enum."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lbsim import algorithms
from lbsim.scenario import json_schema


def properties(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{path}.{name}", sub
        for key, sub in node.items():
            yield from properties(sub, f"{path}/{key}" if key != "properties" else path)
    elif isinstance(node, list):
        for sub in node:
            yield from properties(sub, path)


def test_every_property_has_a_description() -> None:
    found = list(properties(json_schema()))
    assert len(found) > 100  # the walk reaches the nested models
    missing = [path for path, sub in found if not sub.get("description")]
    assert missing == [], f"add description= to these fields: {missing}"


def test_algorithm_is_an_enum_of_the_builtin_names() -> None:
    algorithm = json_schema()["$defs"]["Balancer"]["properties"]["algorithm"]
    by_name, with_params = algorithm["anyOf"]
    assert by_name["enum"] == list(algorithms.BUILTIN_NAMES)
    assert with_params["properties"]["name"]["enum"] == list(algorithms.BUILTIN_NAMES)
    assert set(algorithms.BUILTIN_NAMES) <= set(algorithms.available())
