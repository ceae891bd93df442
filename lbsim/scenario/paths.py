"""Dotted field paths (``balancer.health_check.interval``): which exist in
the schema, which models sit at a path, setting a value at one, mapping a
pydantic error location back to the data, and ``--set path=value``."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from lbsim.scenario.errors import Problem, ScenarioError
from lbsim.scenario.models import Scenario
from lbsim.scenario.source import Marks, YamlError, parse

FieldPath = tuple[str | int, ...]


def split(dotted: str) -> FieldPath:
    """``"servers.0.count"`` -> ``("servers", 0, "count")``."""
    return tuple(int(p) if p.isdigit() else p for p in dotted.split("."))


def dotted(path: tuple[Any, ...]) -> str:
    """``("servers", 0, "count")`` -> ``"servers.0.count"``."""
    return ".".join(str(p) for p in path)


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes (or other types) an annotation may hold."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _unwrap(arg)]
    if origin in (tuple, list):
        return _unwrap(get_args(annotation)[0])
    return [annotation]


def _models(annotation: Any) -> list[type[BaseModel]]:
    return [c for c in _unwrap(annotation) if isinstance(c, type) and issubclass(c, BaseModel)]


def models_at(path: FieldPath, data: Any) -> list[type[BaseModel]]:
    """Model classes that may sit at ``path`` of the scenario (for hints and
    path checks); a discriminated union is narrowed by the data's tag."""
    models: list[type[BaseModel]] = [Scenario]
    node = data
    for part in path:
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
        if isinstance(part, int):
            continue
        infos = [info for m in models if (info := m.model_fields.get(part)) is not None]
        nxt = [candidate for info in infos for candidate in _models(info.annotation)]
        tags = {tag for info in infos for tag in _discriminators(info)}
        if isinstance(node, dict) and tags:
            tagged = [m for m in nxt if any(_tag_matches(m, node, tag) for tag in tags)]
            nxt = tagged or nxt
        models = nxt
    return models


def _discriminators(info: FieldInfo) -> set[str]:
    """The tag keys of the discriminated unions a field may hold."""
    found = {info.discriminator} if isinstance(info.discriminator, str) else set()

    def walk(annotation: Any) -> None:
        if get_origin(annotation) is Annotated:
            args = get_args(annotation)
            found.update(
                m.discriminator
                for m in args[1:]
                if isinstance(getattr(m, "discriminator", None), str)
            )
            walk(args[0])
        elif get_origin(annotation) in (Union, types.UnionType, tuple, list):
            for arg in get_args(annotation):
                walk(arg)

    walk(info.annotation)
    return found


def _tag_matches(model: type[BaseModel], node: dict[str, Any], tag: str) -> bool:
    """Whether ``node``'s value of the tag key ``tag`` selects ``model``."""
    info = model.model_fields.get(tag)
    return info is not None and node.get(tag) in get_args(info.annotation)


def allowed_keys(path: FieldPath, data: Any) -> list[str]:
    """The keys allowed in the mapping at ``path`` of ``data``, sorted."""
    return sorted({k for m in models_at(path, data) for k in m.model_fields})


def exists(path: FieldPath) -> tuple[bool, str, list[str]]:
    """Whether a dotted path names a field of the schema; if not, the first
    unknown part and the keys allowed in its place."""
    models: list[type[BaseModel]] = [Scenario]
    for part in path:
        if isinstance(part, int):
            continue
        fields = {name: info for m in models for name, info in m.model_fields.items()}
        if part not in fields:
            if any(m.model_config.get("extra") == "allow" for m in models):
                return True, "", []
            return False, str(part), sorted(fields)
        models = _models(fields[part].annotation)
        if not models:
            return part == path[-1], str(part), []
    return True, "", []


def set_value(data: dict[str, Any], path: FieldPath, value: Any) -> None:
    """Set ``value`` at ``path`` of ``data``, creating missing mappings."""
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        if isinstance(node, dict):
            if part not in node or node[part] is None:
                node[part] = {}
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(node, list):
            raise ValueError(f"index {part} is out of range ({len(node)} item(s))")
        else:
            raise ValueError(f"{dotted(path[: depth + 1])} is not a mapping or list item")
    last = path[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value
    elif isinstance(node, list):
        raise ValueError(f"index {last} is out of range ({len(node)} item(s))")
    else:
        raise ValueError(f"cannot set {dotted(path)}")


def data_path(loc: tuple[Any, ...], data: Any) -> FieldPath:
    """A pydantic error location with union tags and validator names removed."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
        elif isinstance(node, dict) and part in node.values():
            continue  # the tag of a tagged union (``dist: gamma``) names no field
        elif isinstance(node, dict) and part not in node and loc.index(part) == len(loc) - 1:
            pass  # a missing or unknown key at the end: keep it
        else:
            continue
        path.append(part)
    return tuple(path)


def position(marks: Marks, path: FieldPath) -> tuple[int | None, int | None]:
    """Line and column of ``path`` or of its nearest marked ancestor (the
    document's start for a key missing at the top of a file)."""
    for depth in range(len(path), 0, -1):
        if path[:depth] in marks:
            return marks[path[:depth]]
    return (1, 1) if marks else (None, None)


def parse_override(assignment: str) -> tuple[str, Any]:
    """``"balancer.algorithm=random"`` -> ``("balancer.algorithm", "random")``;
    the value is read as YAML, so numbers, lists and ``{k: v}`` work."""
    if "=" not in assignment:
        raise ScenarioError(
            [Problem("--set", None, None, assignment, "expected path=value, e.g. seed=3")]
        )
    key, _, value = assignment.partition("=")
    if not value.strip():
        return key.strip(), ""
    try:
        return key.strip(), parse(value)[0]
    except YamlError as err:
        if err.message.startswith("YAML syntax error"):
            return key.strip(), value  # not YAML: the text itself
        raise ScenarioError([Problem("--set", None, None, key.strip(), err.message)]) from None
