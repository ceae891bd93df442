"""Short labels for varied values and the variant names made of them."""

from __future__ import annotations

from typing import Any


def algorithm_name(value: object) -> object:
    """``"random"`` -> ``{"name": "random"}``; mappings pass unchanged."""
    return {"name": value} if isinstance(value, str) else value


def label(value: Any) -> str:
    """A short label for a varied value: ``haproxy(interval=500ms)`` for a
    mapping headed by a name-like key, ``k=v, ...`` for other mappings."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(label(v) for v in value) + "]"
    if value is None:
        return "none"
    if not isinstance(value, dict):
        return str(value)
    head_key = next((k for k in ("name", "preset", "dist", "process") if k in value), None)
    rest = ", ".join(
        f"{k}({label(v)})" if isinstance(v, dict) else f"{k}={label(v)}"
        for k, v in value.items()
        if k != head_key
    )
    if head_key is None:
        return rest
    return f"{value[head_key]}({rest})" if rest else str(value[head_key])


def variant_name(values: dict[str, Any]) -> str:
    """``least_connections`` or ``round_robin / count=4``: mappings by their
    label, plain values as ``<last path segment>=<value>``."""

    def one(dotted: str, value: Any) -> str:
        if dotted.endswith("algorithm") or isinstance(value, dict):
            return label(algorithm_name(value) if dotted.endswith("algorithm") else value)
        return f"{dotted.rsplit('.', 1)[-1]}={label(value)}"

    return " / ".join(one(k, v) for k, v in values.items())
