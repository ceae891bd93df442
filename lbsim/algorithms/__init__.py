"""The registry of balancing algorithms: built-ins, decorated ones, plug-ins.

A plain mapping from a name to a :class:`Spec` (factory, parameter model, one
line of summary). Users add their own with ``@register_algorithm("name")`` or
through the ``lbsim.algorithms`` entry-point group (the entry point names a
class or factory taking ``(backends, rng, params)``; its ``Params`` attribute,
if any, is its parameter model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

from lbsim.algorithms.base import (
    Algorithm,
    AlgorithmFactory,
    Backends,
    BaseAlgorithm,
    HostListener,
    HostSet,
    Params,
    Request,
    RequestView,
)
from lbsim.algorithms.consistent_hash import consistent_hash
from lbsim.algorithms.haproxy_random import HaproxyRandom
from lbsim.algorithms.ip_hash import IpHash
from lbsim.algorithms.jsq_oracle import JsqOracle
from lbsim.algorithms.ketama import Ketama
from lbsim.algorithms.least_connections import LeastConnections
from lbsim.algorithms.least_response_time import LeastResponseTime
from lbsim.algorithms.maglev import Maglev
from lbsim.algorithms.nginx_least_conn import NginxLeastConn
from lbsim.algorithms.nginx_random import NginxRandom
from lbsim.algorithms.policies import bounded_load
from lbsim.algorithms.policies.client_side_wrr import ClientSideWeightedRoundRobin
from lbsim.algorithms.policies.info_delay import WithInfoDelay
from lbsim.algorithms.policies.jiq import JoinIdleQueue
from lbsim.algorithms.policies.peak_ewma import PeakEwma
from lbsim.algorithms.power_of_two import PowerOfTwo
from lbsim.algorithms.random import RandomChoice
from lbsim.algorithms.ring_hash import RingHash
from lbsim.algorithms.round_robin import RoundRobin
from lbsim.algorithms.weighted_round_robin import WeightedRoundRobin

__all__ = [
    "Algorithm",
    "Backends",
    "BaseAlgorithm",
    "HostListener",
    "HostSet",
    "Params",
    "Request",
    "RequestView",
    "Spec",
    "available",
    "get",
    "register_algorithm",
]

ENTRY_POINT_GROUP = "lbsim.algorithms"


@dataclass(frozen=True)
class Spec:
    """A registered algorithm: how to build it and what parameters it takes."""

    name: str
    factory: AlgorithmFactory
    params: type[Params]
    summary: str
    origin: str  # "built-in", "registered" or "plugin <distribution>"


def _summary(obj: object) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def _spec(name: str, factory: Any, origin: str) -> Spec:
    params = getattr(factory, "Params", Params)
    return Spec(name, factory, params, _summary(factory), origin)


# the hash policies take Envoy's hash_balance_factor (bounded load) beside their own
_BOUNDED: dict[str, Any] = {
    "ketama": bounded_load.ketama,
    "ring_hash": bounded_load.ring_hash,
    "maglev": bounded_load.maglev,
}
_BUILTINS: dict[str, Spec] = {
    cls.name: _spec(cls.name, _BOUNDED.get(cls.name, cls), "built-in")
    for cls in (
        RandomChoice,
        RoundRobin,
        WeightedRoundRobin,
        LeastConnections,
        PowerOfTwo,
        LeastResponseTime,
        IpHash,
        Ketama,
        RingHash,
        Maglev,
        JsqOracle,
        NginxLeastConn,
        NginxRandom,
        HaproxyRandom,
        PeakEwma,
        JoinIdleQueue,
        ClientSideWeightedRoundRobin,
    )
}
# policies that read load counts take info_delay (stale counts) beside their own
LOAD_AWARE = (
    "least_connections",
    "power_of_two",
    "least_response_time",
    "ketama",
    "ring_hash",
    "maglev",
    "jsq_oracle",
    "nginx_least_conn",
    "nginx_random",
    "haproxy_random",
    "peak_ewma",
)
for _name in LOAD_AWARE:
    _plain = _BUILTINS[_name]
    _delayed = WithInfoDelay(_plain.factory, _plain.params)
    _BUILTINS[_name] = Spec(_name, _delayed, _delayed.Params, _plain.summary, "built-in")
_BUILTINS["consistent_hash"] = _spec("consistent_hash", consistent_hash, "built-in")  # v1 alias
BUILTIN_NAMES = tuple(_BUILTINS)
_registered: dict[str, Spec] = {}
_plugins: dict[str, Spec] | None = None

F = TypeVar("F", bound=Callable[..., Any])


def register_algorithm(name: str) -> Callable[[F], F]:
    """Register a class or factory ``(backends, rng, params) -> Algorithm`` under
    ``name``. Its ``Params`` attribute (a :class:`Params` subclass), if present,
    validates the scenario's parameters for it."""

    def decorate(factory: F) -> F:
        _registered[name] = _spec(name, factory, "registered")
        return factory

    return decorate


def _load_plugins() -> dict[str, Spec]:
    global _plugins
    if _plugins is None:
        _plugins = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else "?"
            _plugins[ep.name] = _spec(ep.name, ep.load(), f"plugin {dist}")
    return _plugins


def available() -> dict[str, Spec]:
    """Every algorithm by name: built-ins, then plug-ins, then registered ones."""
    return {**_BUILTINS, **_load_plugins(), **_registered}


def get(name: str) -> Spec:
    """The spec of ``name``; KeyError listing the known names otherwise."""
    specs = available()
    if name not in specs:
        raise KeyError(f"unknown algorithm {name!r}; known: {', '.join(specs)}")
    return specs[name]
