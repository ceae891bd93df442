"""The scenario in words: what was simulated, for the top of the HTML report."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from lbsim.report.plots import ResultLike
from lbsim.report.variants_text import (
    compared,
    differing_pools,
    timeline,
    variant_text,
    varies_outside_balancer,
)
from lbsim.report.wording import (
    as_per_second,
    as_seconds,
    duration_text,
    key_words,
    plural,
    shown,
    value_text,
    words,
)
from lbsim.scenario.units import format_duration, format_rate


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
        end = as_seconds(scenario.get("duration"))
        lines.append(("Events", timeline(events, scenario.get("compare"), end)))
    variants = meta.get("variants") or []
    lines.append(("Compared", compared(scenario.get("compare"), variants)))
    # autoscaled pools: a variant lists the hosts allocated up to ``max``
    scaled = {str(p.get("name")) for p in pools if isinstance(p.get("autoscale"), Mapping)}
    if varies_outside_balancer(scenario.get("compare")) and len(variants) > 1:
        differ = differing_pools(variants, scaled)
        lines.append(
            (
                "Variants",
                "\n".join(f"{v.get('name')}: {variant_text(v, scaled, differ)}" for v in variants),
            )
        )
    known = {
        "name", "seed", "duration", "warmup", "drain", "sample_interval", "records",
        "clients", "servers", "balancer", "compare", "events", "sweep", "report",
    }  # fmt: skip
    extra = [
        f"{key_words(k)}: {text}"
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
    duration, warmup = as_seconds(meta.get("duration")), as_seconds(meta.get("warmup"))
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
    interval = as_seconds(meta.get("sample_interval"))
    if interval:
        bits.append(f"sampled every {format_duration(interval)}")
    wall = meta.get("wall_time")
    if isinstance(wall, int | float):
        bits.append(f"{wall:.1f}s wall time")
    if meta.get("lbsim_version"):
        bits.append(f"lbsim {meta['lbsim_version']}")
    return " · ".join(bits)


def _rate_value_text(value: object) -> str:
    rate = as_per_second(value)
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
        rates = [r for r in (as_per_second(rate) for _, rate in points) if r is not None]
        steps = [f"{_rate_value_text(rate)} at {duration_text(at)}" for at, rate in points]
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
        think = _service_mean(pause) if isinstance(pause, Mapping) else as_seconds(pause)
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
        return as_seconds(service.get("mean"))
    if dist == "deterministic":
        return as_seconds(service.get("value"))
    if dist == "empirical" and service.get("values"):
        values = [v for v in (as_seconds(x) for x in service["values"]) if v is not None]
        return sum(values) / len(values) if values else None
    if dist == "pareto":
        alpha = service.get("alpha")
        low, high = as_seconds(service.get("low")), as_seconds(service.get("high"))
        if isinstance(alpha, int | float) and low and high and high > low and alpha > 0:
            return _bounded_pareto_mean(float(alpha), low, high)
    mean = as_seconds(service.get("mean"))
    return mean


def _bounded_pareto_mean(alpha: float, low: float, high: float) -> float:
    """Mean of the Pareto(alpha) law truncated to [low, high]."""
    ratio = (low / high) ** alpha
    if math.isclose(alpha, 1.0):
        return low * math.log(high / low) / (1 - ratio)
    return (alpha / (alpha - 1)) * (low - high * ratio) / (1 - ratio)


def _service(service: Mapping[str, Any]) -> str:
    dist = str(service.get("dist") or "")
    d = duration_text
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
        bits = [plural(workers, "worker")]
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
    rate = as_per_second(arrivals.get("rate"))
    where = "offered load"
    if rate is None and arrivals.get("profile"):
        rates = [r for r in (as_per_second(p.get("rate")) for p in arrivals["profile"]) if r]
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
            f"{k}={words(v, k)}" for k, v in algorithm.items() if k != "name" and shown(v)
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
        f"{key_words(k)} {words(v, k)}".strip()
        for k, v in balancer.items()
        if k != "algorithm" and shown(v) and v != defaults.get(k)
    ]
    if others:
        text += "; " + "; ".join(others)
    return text + "."
