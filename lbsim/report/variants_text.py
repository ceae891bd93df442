"""What a comparison varies, in words: the compared settings, each
variant's own, and the timeline of scripted events."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from lbsim.report.wording import (
    as_seconds,
    duration_text,
    key_words,
    plural,
    value_text,
    words,
)
from lbsim.scenario.units import format_duration


def timeline(
    events: Sequence[Mapping[str, Any]], compare: object = None, end: float | None = None
) -> str:
    """``at 4m (240s): crash small-3 for 1m``; each scripted event once, in
    time order. An event time that ``compare`` varies reads ``at 2.17m
    (130s) or 6m (360s, after the end), by variant``; a time at or past
    ``end`` (of arrivals) says so."""
    axes = compare if isinstance(compare, Mapping) else {}
    timed = []
    for index, event in enumerate(events):
        values = axes.get(f"events.{index}.at")
        times = [as_seconds(v) for v in values] if isinstance(values, Sequence) else []
        if not times or None in times:
            times = [as_seconds(event.get("at"))]
        timed.append((times, event))
    timed.sort(key=lambda item: min((t for t in item[0] if t is not None), default=0.0))
    parts = []
    for times, event in timed:
        when = " or ".join(_when(at, end) for at in times)
        if len(times) > 1:
            when += ", by variant"
        action = str(event.get("action", "")).replace("_", " ")
        what = f"at {when}: {action} {event.get('target', '')}"
        if event.get("factor") is not None:
            what += f" ×{value_text(event['factor'])} slower"
        if event.get("rate") is not None:
            what += f" ({value_text(event['rate'] * 100)}% errors)"
        if event.get("weight") is not None:
            what += f" to weight {event['weight']}"
        if event.get("version") is not None and event.get("percent") is not None:
            what += f": version {event['version']} to {value_text(event['percent'])}%"
            steps, every = event.get("steps"), as_seconds(event.get("every"))
            if isinstance(steps, int) and steps > 1 and every is not None:
                what += f" in {steps} steps {format_duration(every)} apart"
        if event.get("for") is not None:
            what += f" for {duration_text(event['for'])}"
        parts.append(what)
    return "; ".join(parts) + "."


def _when(at: float | None, end: float | None) -> str:
    """An event time: ``90s``, ``4m (240s)``; ``6m (360s, after the end)``."""
    if at is None:
        return "-"
    after = end is not None and at >= end
    if at < 120:
        return f"{at:g}s (after the end)" if after else f"{at:g}s"
    return f"{format_duration(at)} ({at:g}s{', after the end' if after else ''})"


def varies_outside_balancer(compare: object) -> bool:
    return isinstance(compare, Mapping) and any(
        not str(path).startswith("balancer.") for path in compare
    )


def compared(compare: object, variants: Sequence[Mapping[str, Any]]) -> str:
    if not isinstance(compare, Mapping) or not compare:
        return "Nothing: a single variant."
    axes = [
        f"{path} ∈ {{{_alternatives([_setting(v, str(path)) for v in values])}}}"
        if isinstance(values, list)
        else f"{path} = {_setting(values, str(path))}"
        for path, values in compare.items()
    ]
    n = len(variants)
    count = f"{n} variants" if n else "every combination"
    paths = [str(p) for p in compare]
    if not varies_outside_balancer(compare):
        why = (
            "each facing the identical workload (same arrivals and service demands), "
            "so differences come from the balancer alone"
        )
    elif any(p.startswith(_WORKLOAD) or p in ("seed", "duration") for p in paths):
        why = "the workload itself differs between variants (see each below)"
    else:
        varied = sorted({_area(p) for p in paths if not p.startswith("balancer.")})
        why = (
            "each facing the same arrivals and service demands, but with different "
            + " and ".join(varied)
            + " (see each below), so differences do not come from the balancer alone"
        )
    return f"{'; '.join(axes)}: {count}, {why}."


_WORKLOAD = (
    "clients.arrivals",
    "clients.service",
    "clients.count",
    "clients.nat",
    "clients.subnets",
)


def _area(path: str) -> str:
    """What a varied path changes, in words: ``servers``, ``client retries``..."""
    head, _, rest = path.partition(".")
    if head == "clients":
        return f"client {key_words(rest.split('.')[0])}"
    return key_words(head)


def _setting(value: object, path: str) -> str:
    """The value a compared field takes: ``yes``/``no`` for a flag (inside a
    mapping a true flag reads as its bare key, which alone here says nothing)."""
    return value_text(value) if isinstance(value, bool) else words(value, path)


def _alternatives(texts: Sequence[str]) -> str:
    """Compared values: comma-separated, or ``|`` when a value has commas."""
    return (" | " if any("," in t for t in texts) else ", ").join(texts)


def variant_text(
    variant: Mapping[str, Any], scaled: Collection[str] = (), shown: Collection[str] | None = None
) -> str:
    """What this variant sets, and its servers when they are what varies
    (``up to`` the hosts allocated for the pools in ``scaled``, autoscaled):
    the pools in ``shown`` only (None: all), those that differ between variants."""
    params = variant.get("params") or {}
    text = "; ".join(f"{path} = {_setting(v, str(path))}" for path, v in params.items())
    if any(str(p).startswith("servers") for p in params):
        pools = _pool_texts(variant, scaled)
        parts = [words for pool, words in pools.items() if shown is None or pool in shown]
        if parts:
            text += " — " + "; ".join(parts)
    return text + "."


def _pool_texts(variant: Mapping[str, Any], scaled: Collection[str]) -> dict[str, str]:
    """Per pool of ``variant``'s servers: ``up to 16 × web (2 workers, speed 1, weight 1)``."""
    pools: dict[str, list[Mapping[str, Any]]] = {}
    for server in variant.get("servers") or ():
        pools.setdefault(str(server.get("pool", "")), []).append(server)
    return {
        pool: f"{'up to ' if pool in scaled else ''}{len(group)} × {pool} "
        f"({plural(group[0].get('workers'), 'worker')}, speed "
        f"{value_text(group[0].get('speed'))}, weight {group[0].get('weight')})"
        for pool, group in pools.items()
    }


def differing_pools(variants: Sequence[Mapping[str, Any]], scaled: Collection[str]) -> set[str]:
    """The pools whose description is not the same in every variant."""
    texts = [_pool_texts(v, scaled) for v in variants]
    names = {pool for t in texts for pool in t}
    return {pool for pool in names if len({t.get(pool) for t in texts}) > 1}
