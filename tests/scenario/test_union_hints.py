"""The "allowed keys" hint under a discriminated union lists only the keys
of the variant its tag selects (``passive: {preset: nginx}`` -> NGINX's keys).

The unions are found in the published JSON Schema (every ``discriminator``
with its ``mapping``), not in the code under test, so a union added later is
covered without touching this file.
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

import pytest

from lbsim.scenario import ScenarioError, json_schema, load

SCHEMA = json_schema()
BASE: dict[str, Any] = {
    "duration": "1m",
    "clients": {"arrivals": {"rate": "1/s"}, "service": {"dist": "exponential", "mean": "1s"}},
    "servers": [{"name": "web"}],
}
UNKNOWN = "zz_not_a_key"


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _unions(
    node: dict[str, Any], path: tuple[str | int, ...], seen: frozenset[str]
) -> list[tuple[tuple[str | int, ...], str, str, str]]:
    """(data path, tag key, tag value, $defs name) for every union variant."""
    ref = node.get("$ref")
    if ref in seen:
        return []
    seen = seen | {ref} if ref else seen
    node = _resolve(node)
    found = []
    if "discriminator" in node:
        tag = node["discriminator"]["propertyName"]
        for value, target in node["discriminator"]["mapping"].items():
            found.append((path, tag, value, target.rsplit("/", 1)[-1]))
    for key, sub in node.get("properties", {}).items():
        found += _unions(sub, (*path, key), seen)
    for sub in node.get("anyOf", []) + node.get("oneOf", []):
        found += _unions(sub, path, seen)
    if isinstance(node.get("items"), dict):
        found += _unions(node["items"], (*path, 0), seen)
    return found


UNIONS = _unions(SCHEMA, (), frozenset())


def test_the_schema_has_the_known_unions() -> None:
    places = {".".join(map(str, path)) for path, *_ in UNIONS}
    assert {"clients.service", "balancer.passive", "servers.0.faults.crash.mtbf"} <= places


def _put(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = data
    for part, following in itertools.pairwise(path):
        if isinstance(part, int):
            node = node[part]
        else:  # a list (of one item) where the path goes on by index
            node = node.setdefault(part, [{}] if isinstance(following, int) else {})
    node[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "tag", "value", "model"),
    UNIONS,
    ids=[f"{'.'.join(map(str, p))}:{v}" for p, _, v, _ in UNIONS],
)
def test_unknown_key_lists_only_the_selected_variant(
    path: tuple[str | int, ...], tag: str, value: str, model: str
) -> None:
    expected = sorted(SCHEMA["$defs"][model]["properties"])
    every = sorted(
        {k for p, _, _, m in UNIONS if p == path for k in SCHEMA["$defs"][m]["properties"]}
    )
    assert expected != every  # else the test could not tell the variants apart
    data = copy.deepcopy(BASE)
    _put(data, path, {tag: value, UNKNOWN: 1})
    with pytest.raises(ScenarioError) as caught:
        load(data=data)
    dotted = ".".join(map(str, (*path, UNKNOWN)))
    [problem] = [p for p in caught.value.problems if p.path == dotted]
    allowed = re.search(r"\(allowed: (.*)\)$", problem.message)
    assert allowed is not None, problem.message
    assert allowed.group(1).split(", ") == expected
