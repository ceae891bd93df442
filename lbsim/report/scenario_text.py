"""The scenario in words: what was simulated, for the top of the HTML report."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from functools import cache
from typing import Any

from lbsim.report.plots import ResultLike
from lbsim.scenario.units import format_duration, format_rate, parse_duration, parse_rate


def describe_scenario(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, sentence) pairs saying what was simulated, for people; a
    sentence may hold several lines (``\n``), one per variant say."""
    scenario: Mapping[str, Any] = meta.get("scenario") or {}
    clients: Mapping[str, Any] = scenario.get("clients") or {}
    lines: list[tuple[str, str]] = []
    if clients:
        lines.append(("Traffic", _traffic(clients)))
        if clients.get("service"):
            lines.append(("Service", _service(clients["service"])))
    pools = scenario.get("servers") or []
    if pools:
        lines.append(("Servers", _servers(pools)))
        load = _load(clients, pools)
        if load:
            lines.append(("Load", load))
    balancer = scenario.get("balancer") or {}
    if balancer:
        lines.append(("Balancer", _balancer(balancer)))
    events = scenario.get("events") or []
    if events:
        end = _seconds(scenario.get("duration"))
        lines.append(("Events", _timeline(events, scenario.get("compare"), end)))
    variants = meta.get("variants") or []
    lines.append(("Compared", _compared(scenario.get("compare"), variants)))
    # autoscaled pools: a variant lists the hosts allocated up to ``max``
    scaled = {str(p.get("name")) for p in pools if isinstance(p.get("autoscale"), Mapping)}
    if _varies_outside_balancer(scenario.get("compare")) and len(variants) > 1:
        differ = _differing_pools(variants, scaled)
        lines.append(
            (
                "Variants",
                "\n".join(f"{v.get('name')}: {_variant_text(v, scaled, differ)}" for v in variants),
            )
        )
    known = {
        "name", "seed", "duration", "warmup", "drain", "sample_interval", "records",
        "clients", "servers", "balancer", "compare", "events", "sweep", "report",
    }  # fmt: skip
    extra = [
        f"{_key(k)}: {text}"
        for k in scenario
        if k not in known and scenario[k] not in (None, {}, [], ())
        if (text := words(scenario[k], k))
    ]
    if extra:
        lines.append(("Also", "; ".join(extra)))
    return lines


def run_line(result: ResultLike) -> str:
    meta = result.meta
    bits = []
    duration, warmup = _seconds(meta.get("duration")), _seconds(meta.get("warmup"))
    if duration is not None:
        text = f"{format_duration(duration)} simulated"
        if warmup:
            text += f" (first {format_duration(warmup)} warm-up, not measured)"
        bits.append(text)
    if meta.get("seed") is not None:
        bits.append(f"seed {meta['seed']}")
    requests = result.requests
    if len(requests) and "variant" in requests.columns:
        sizes = requests.groupby("variant", observed=True).size()
        low, high = int(sizes.min()), int(sizes.max())
        count = f"{high:,}" if low == high else f"{low:,}–{high:,}"
        bits.append(f"{count} requests measured per variant")
    elif len(requests):
        bits.append(f"{len(requests):,} requests measured")
    interval = _seconds(meta.get("sample_interval"))
    if interval:
        bits.append(f"sampled every {format_duration(interval)}")
    wall = meta.get("wall_time")
    if isinstance(wall, int | float):
        bits.append(f"{wall:.1f}s wall time")
    if meta.get("lbsim_version"):
        bits.append(f"lbsim {meta['lbsim_version']}")
    return " · ".join(bits)


def _seconds(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _per_second(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return parse_rate(value)
    except ValueError:
        return None


def _duration_text(value: object) -> str:
    seconds = _seconds(value)
    if seconds is None:
        return str(value)
    return format_duration(seconds)


def _rate_value_text(value: object) -> str:
    rate = _per_second(value)
    return str(value) if rate is None else format_rate(rate)


def _traffic(clients: Mapping[str, Any]) -> str:
    arrivals: Mapping[str, Any] = clients.get("arrivals") or {}
    process = str(arrivals.get("process") or "poisson")
    text = {
        "poisson": "Poisson arrivals",
        "deterministic": "Evenly spaced (deterministic) arrivals",
    }.get(process, f"{process} arrivals")
    profile = arrivals.get("profile")
    if profile:
        points = [(p.get("at"), p.get("rate")) for p in profile]
        rates = [r for r in (_per_second(rate) for _, rate in points) if r is not None]
        steps = [f"{_rate_value_text(rate)} at {_duration_text(at)}" for at, rate in points]
        if len(steps) > 8:
            steps = [*steps[:4], f"… ({len(steps) - 6} more) …", *steps[-2:]]
        text += ", rate profile " + " → ".join(steps)
        if rates:
            text += f" (lowest {format_rate(min(rates))}, peak {format_rate(max(rates))})"
    elif arrivals.get("rate") is not None:
        text += f" at {_rate_value_text(arrivals['rate'])}"
    sessions = clients.get("sessions")
    if isinstance(sessions, Mapping):
        text = text.replace("arrivals", "session starts", 1)
        per = _session_requests(clients)
        pause = sessions.get("think")
        think = _service_mean(pause) if isinstance(pause, Mapping) else _seconds(pause)
        if per is not None:
            text += f", {value_text(per)} requests a session"
            text += f" (mean think time {format_duration(think)})" if think else ""
    count = clients.get("count")
    if count:
        text += f" from {count:,} clients" if isinstance(count, int) else f" from {count} clients"
    nat = clients.get("nat")
    if nat:
        fraction = nat.get("fraction")
        share = f"{fraction:.0%}" if isinstance(fraction, int | float) else "some"
        text += f", {share} of them behind {nat.get('gateways')} NAT gateways"
    return text + "."


def _service_mean(service: Mapping[str, Any]) -> float | None:
    """Mean service demand (s on a speed-1 server), where the dist says it."""
    dist = service.get("dist")
    if dist in ("exponential", "lognormal", "gamma"):
        return _seconds(service.get("mean"))
    if dist == "deterministic":
        return _seconds(service.get("value"))
    if dist == "empirical" and service.get("values"):
        values = [v for v in (_seconds(x) for x in service["values"]) if v is not None]
        return sum(values) / len(values) if values else None
    if dist == "pareto":
        alpha = service.get("alpha")
        low, high = _seconds(service.get("low")), _seconds(service.get("high"))
        if isinstance(alpha, int | float) and low and high and high > low and alpha > 0:
            return _bounded_pareto_mean(float(alpha), low, high)
    mean = _seconds(service.get("mean"))
    return mean


def _bounded_pareto_mean(alpha: float, low: float, high: float) -> float:
    """Mean of the Pareto(alpha) law truncated to [low, high]."""
    ratio = (low / high) ** alpha
    if math.isclose(alpha, 1.0):
        return low * math.log(high / low) / (1 - ratio)
    return (alpha / (alpha - 1)) * (low - high * ratio) / (1 - ratio)


def _service(service: Mapping[str, Any]) -> str:
    dist = str(service.get("dist") or "")
    d = _duration_text
    if dist == "exponential":
        text = f"Exponentially distributed service demand, mean {d(service.get('mean'))}"
    elif dist == "deterministic":
        text = f"Fixed service demand of {d(service.get('value'))}"
    elif dist in ("lognormal", "gamma"):
        text = (
            f"{dist.capitalize()} service demand, mean {d(service.get('mean'))}, "
            f"CV {value_text(service.get('cv'))}"
        )
    elif dist == "pareto":
        text = (
            f"Bounded Pareto service demand (α = {value_text(service.get('alpha'))}) "
            f"between {d(service.get('low'))} and {d(service.get('high'))}"
        )
    elif dist == "empirical":
        if service.get("values"):
            text = f"Empirical service demand resampled from {len(service['values'])} values"
        else:
            text = f"Empirical service demand from {service.get('file')}"
    else:
        params = ", ".join(f"{k} {value_text(v)}" for k, v in service.items() if k != "dist")
        text = f"{dist or 'Unspecified'} service demand" + (f" ({params})" if params else "")
    mean = _service_mean(service)
    if mean is not None and dist not in ("exponential", "deterministic", "lognormal", "gamma"):
        text += f", mean {format_duration(mean)}"
    return text + ", as measured on a speed-1 server."


def _servers(pools: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    total_servers = total_workers = 0
    for pool in pools:
        count = int(pool.get("count") or 1)
        workers = int(pool.get("workers") or 1)
        total_servers += count
        total_workers += count * workers
        bits = [_plural(workers, "worker")]
        bits.append(f"speed {value_text(pool.get('speed', 1))}")
        limit = pool.get("queue_limit")
        bits.append("unbounded queue" if limit is None else f"queue limit {limit}")
        weight = pool.get("weight")
        if weight not in (None, 1):
            bits.append(f"weight {weight}")
        scaling = pool.get("autoscale")
        if isinstance(scaling, Mapping):
            bits.append(
                f"autoscaled {scaling.get('min')}–{scaling.get('max')} on "
                f"{scaling.get('metric')}, target {value_text(scaling.get('target'))}, "
                f"{str(scaling.get('preset') or 'aws').upper()} rules"
            )
        parts.append(f"{count} × {pool.get('name', 'servers')} ({', '.join(bits)})")
    text = "; ".join(parts)
    if len(pools) > 1 or total_workers != total_servers:
        text += f" — {total_servers} servers, {total_workers} workers in all"
    return text + "."


def _session_requests(clients: Mapping[str, Any]) -> float | None:
    """Mean requests per session of closed-loop clients (None without sessions)."""
    sessions = clients.get("sessions")
    if not isinstance(sessions, Mapping):
        return None
    requests = sessions.get("requests")
    if isinstance(requests, int | float) and not isinstance(requests, bool):
        return float(requests)
    return _service_mean(requests) if isinstance(requests, Mapping) else None


def _load(clients: Mapping[str, Any], pools: Sequence[Mapping[str, Any]]) -> str:
    """Capacity and offered load ρ = λ·E[S] / Σ(workers·speed), where known
    (λ in requests: session starts × requests a session with sessions)."""
    mean = _service_mean(clients.get("service") or {})
    if not mean:
        return ""
    slots = sum(
        int(p.get("count") or 1) * int(p.get("workers") or 1) * float(p.get("speed") or 1)
        for p in pools
    )
    capacity = slots / mean
    text = (
        f"Capacity ≈ {format_rate(capacity)} (Σ workers × speed = {value_text(slots)}, ÷ "
        f"mean demand {format_duration(mean)}; before balancer costs, failures and retries)"
    )
    arrivals: Mapping[str, Any] = clients.get("arrivals") or {}
    rate = _per_second(arrivals.get("rate"))
    where = "offered load"
    if rate is None and arrivals.get("profile"):
        rates = [r for r in (_per_second(p.get("rate")) for p in arrivals["profile"]) if r]
        rate, where = (max(rates), "offered load at peak") if rates else (None, where)
    per_session = _session_requests(clients)
    if clients.get("sessions") is not None:
        rate = rate * per_session if rate is not None and per_session is not None else None
        where = where.replace("offered load", "offered load once sessions are under way")
    if rate is not None:
        rho = rate / capacity
        text += f"; {where} ρ ≈ {rho:.2f}"
        if rho >= 1:
            text += ": overloaded, queues grow for as long as it lasts"
    return text + "."


def _algorithm_text(algorithm: object) -> str:
    if isinstance(algorithm, Mapping):
        name = str(algorithm.get("name", ""))
        params = ", ".join(
            f"{k}={words(v, k)}" for k, v in algorithm.items() if k != "name" and _shown(v)
        )
        return f"{name} ({params})" if params else name
    return value_text(algorithm)


@cache
def _balancer_defaults() -> dict[str, Any]:
    from lbsim.scenario.models import Balancer

    return json.loads(Balancer().model_dump_json(by_alias=True))


def _balancer(balancer: Mapping[str, Any]) -> str:
    """The algorithm, then only what differs from the defaults, in words."""
    text = f"Algorithm {_algorithm_text(balancer.get('algorithm'))}"
    defaults = _balancer_defaults()
    others = [
        f"{_key(k)} {words(v, k)}".strip()
        for k, v in balancer.items()
        if k != "algorithm" and _shown(v) and v != defaults.get(k)
    ]
    if others:
        text += "; " + "; ".join(others)
    return text + "."


def _timeline(
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
        times = [_seconds(v) for v in values] if isinstance(values, Sequence) else []
        if not times or None in times:
            times = [_seconds(event.get("at"))]
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
            steps, every = event.get("steps"), _seconds(event.get("every"))
            if isinstance(steps, int) and steps > 1 and every is not None:
                what += f" in {steps} steps {format_duration(every)} apart"
        if event.get("for") is not None:
            what += f" for {_duration_text(event['for'])}"
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


def _varies_outside_balancer(compare: object) -> bool:
    return isinstance(compare, Mapping) and any(
        not str(path).startswith("balancer.") for path in compare
    )


def _compared(compare: object, variants: Sequence[Mapping[str, Any]]) -> str:
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
    if not _varies_outside_balancer(compare):
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
        return f"client {_key(rest.split('.')[0])}"
    return _key(head)


def _setting(value: object, path: str) -> str:
    """The value a compared field takes: ``yes``/``no`` for a flag (inside a
    mapping a true flag reads as its bare key, which alone here says nothing)."""
    return value_text(value) if isinstance(value, bool) else words(value, path)


def _alternatives(texts: Sequence[str]) -> str:
    """Compared values: comma-separated, or ``|`` when a value has commas."""
    return (" | " if any("," in t for t in texts) else ", ").join(texts)


def _variant_text(
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
        f"({_plural(group[0].get('workers'), 'worker')}, speed "
        f"{value_text(group[0].get('speed'))}, weight {group[0].get('weight')})"
        for pool, group in pools.items()
    }


def _plural(count: object, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _differing_pools(variants: Sequence[Mapping[str, Any]], scaled: Collection[str]) -> set[str]:
    """The pools whose description is not the same in every variant."""
    texts = [_pool_texts(v, scaled) for v in variants]
    names = {pool for t in texts for pool in t}
    return {pool for pool in names if len({t.get(pool) for t in texts}) > 1}


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
    other: set[str] = set()  # names that are something else elsewhere (retries.max)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, sub in (node.get("properties") or {}).items():
                is_duration = "(us|ms|s|m|h|d)" in json.dumps(sub)
                (found if is_duration else other).add(key)
            for sub in node.values():
                walk(sub)
        elif isinstance(node, list):
            for sub in node:
                walk(sub)

    walk(json_schema())
    return frozenset(found - other)


def _shown(value: object) -> bool:
    """Whether a setting is worth a word: not unset, off or empty."""
    return value not in (None, False, {}, [], ())


def _key(key: str) -> str:
    return key.rstrip("_").replace("_", " ")


def words(value: object, key: str = "") -> str:
    """A setting in words: durations with units, mappings as ``name (k v, ...)``
    with unset and off settings left out, lists comma-separated."""
    if isinstance(value, Mapping):
        head_key = next((k for k in ("name", "preset", "dist", "process") if k in value), None)
        rest = ", ".join(
            f"{_key(k)} {words(v, k)}".strip() if v is not True else _key(k)
            for k, v in value.items()
            if k != head_key and _shown(v)
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
