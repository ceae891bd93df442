"""Values and settings in words, for the report's prose: durations with
units, mappings as ``name (k v, ...)``, no Python literals."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from lbsim.scenario.units import format_duration, parse_duration, parse_rate


def as_seconds(value: object) -> float | None:
    """A duration (``90``, ``"1.5m"``) in seconds; None if it is not one."""
    return _parsed(value, parse_duration)


def as_per_second(value: object) -> float | None:
    """A rate (``5``, ``"300/m"``) per second; None if it is not one."""
    return _parsed(value, parse_rate)


def _parsed(value: object, parse: Callable[[Any], float]) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return parse(value)
    except ValueError:
        return None


def duration_text(value: object) -> str:
    """A duration with its unit (``90`` reads ``1.5m``); other values as they are."""
    seconds = as_seconds(value)
    if seconds is None:
        return str(value)
    return format_duration(seconds)


def plural(count: object, noun: str) -> str:
    """``1 worker``, ``2 workers``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def value_text(value: object) -> str:
    """A value for people: ``0.25`` not ``0.25000001``, ``-`` for NaN, no Python literals."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:g}"
    if isinstance(value, Mapping | list | tuple):
        return words(value)
    return str(value)


@cache
def _duration_keys() -> frozenset[str]:
    """Field names whose values are durations in seconds, from the schema."""
    from lbsim.scenario.models.scenario import json_schema

    found: set[str] = set()
    other: set[str] = set()  # names of another number elsewhere (retries.max)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, sub in (node.get("properties") or {}).items():
                text = json.dumps(sub)
                if "(us|ms|s|m|h|d)" in text:
                    found.add(key)
                elif '"number"' in text or '"integer"' in text:
                    other.add(key)  # (not a distribution: clients.rtt beside tls.rtt)
            for sub in node.values():
                walk(sub)
        elif isinstance(node, list):
            for sub in node:
                walk(sub)

    walk(json_schema())
    return frozenset(found - other)


def shown(value: object) -> bool:
    """Whether a setting is worth a word: not unset, off or empty."""
    return value not in (None, False, {}, [], ())


def key_words(key: str) -> str:
    """A field name as words: ``queue_limit`` reads ``queue limit``."""
    return key.rstrip("_").replace("_", " ")


def words(value: object, key: str = "") -> str:
    """A setting in words: durations with units, mappings as ``name (k v, ...)``
    with unset and off settings left out, lists comma-separated."""
    if isinstance(value, Mapping):
        head_key = next((k for k in ("name", "preset", "dist", "process") if k in value), None)
        rest = ", ".join(
            f"{key_words(k)} {words(v, k)}".strip() if v is not True else key_words(k)
            for k, v in value.items()
            if k != head_key and shown(v)
        )
        head = str(value[head_key]) if head_key else ""
        return f"{head} ({rest})" if head and rest else head or rest
    if isinstance(value, list | tuple):
        return "/".join(words(v, key) for v in value)
    if value is None:
        return "none"
    last = key.rsplit(".", 1)[-1]
    if last in _duration_keys() and isinstance(value, int | float) and not isinstance(value, bool):
        return format_duration(float(value))
    if value is True and key:
        return ""
    return value_text(value)
