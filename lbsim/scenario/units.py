"""Quantities with units, as people write them in scenario files.

A duration is a number of seconds, or a number with a unit: ``250ms``, ``2s``,
``30m``, ``1.5h`` (also ``us`` for microseconds), or a compound of units
from largest to smallest, each at most once: ``4m30s``, ``1h30m``, ``2s500ms``.
A rate is a number of events per second, or a number with an optional ``k``/``M`` multiplier and a
per-unit: ``800/s``, ``10k/s``, ``90/m``, ``2M/h``. Both parse to plain floats
in seconds and events per second, the only units the engine knows.
"""

from __future__ import annotations

import itertools
import re

from lbsim.scenario.numbers import finite

_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RATE_PER = {"s": 1.0, "m": 1 / 60.0, "h": 1 / 3600.0}
_MULTIPLIERS = {"": 1.0, "k": 1e3, "M": 1e6}

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DURATION_RE = re.compile(rf"^\s*({_NUMBER})\s*(us|ms|s|m|h|d)?\s*$")
_PART = r"(\d+(?:\.\d*)?|\.\d+)(us|ms|s|m|h|d)"
_COMPOUND_RE = re.compile(rf"^\s*(?:{_PART}\s*)+$")
_RATE_RE = re.compile(rf"^\s*({_NUMBER})\s*(k|M)?\s*(?:/\s*(s|m|h))?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from ``2.5``, ``"250ms"``, ``"2m"``...; raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 250ms, 2s, 30m or 1h")
    if isinstance(value, int | float):
        return finite(value, "duration")
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
            return finite(seconds, "duration")
        compound = _compound_seconds(value)
        if compound is not None:
            return finite(compound, "duration")
    raise ValueError(
        f"malformed duration {value!r}: expected a number of seconds or a number with "
        "a unit, one of us, ms, s, m, h, d, or units from largest to smallest "
        "(e.g. 250ms, 2s, 30m, 4m30s, 1h30m)"
    )


def _compound_seconds(text: str) -> float | None:
    """Seconds of ``4m30s``-style text: units strictly from largest to smallest."""
    if not _COMPOUND_RE.match(text):
        return None
    parts = re.findall(_PART, text)
    sizes = [_DURATION_UNITS[unit] for _, unit in parts]
    if any(later >= earlier for earlier, later in itertools.pairwise(sizes)):
        return None
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def parse_rate(value: object) -> float:
    """Events per second from ``7.2``, ``"800/s"``, ``"10k/s"``, ``"90/m"``..."""
    if isinstance(value, bool):
        raise ValueError("expected a rate such as 800/s, 10k/s or 90/m")
    if isinstance(value, int | float):
        return finite(value, "rate")
    if isinstance(value, str):
        match = _RATE_RE.match(value)
        if match:
            number, multiplier, per = match.groups()
            rate = float(number) * _MULTIPLIERS[multiplier or ""] * _RATE_PER[per or "s"]
            return finite(rate, "rate")
    raise ValueError(
        f"malformed rate {value!r}: expected events per second, optionally with k or M "
        "and a unit /s, /m or /h (e.g. 800/s, 10k/s, 90/m)"
    )


def format_duration(seconds: float) -> str:
    """Short human form: ``850ms``, ``2.5s``, ``12m``, ``1.5h``."""
    if seconds != seconds:  # NaN
        return "-"
    if seconds == 0:
        return "0s"
    magnitude = abs(seconds)
    if magnitude < 1e-3:
        return f"{seconds * 1e6:.3g}µs"
    if magnitude < 1:
        return f"{seconds * 1e3:.3g}ms"
    if magnitude < 120:
        return f"{seconds:.3g}s"
    if magnitude < 7200:
        return f"{seconds / 60:.3g}m"
    return f"{seconds / 3600:.3g}h"


def format_rate(per_second: float) -> str:
    """Short human form: ``0.5/s``, ``100/s``, ``2.5k/s``, ``1.2M/s``."""
    if per_second >= 1e6:
        return f"{per_second / 1e6:.3g}M/s"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.3g}k/s"
    return f"{per_second:.3g}/s"
