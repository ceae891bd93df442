"""Selection shares of every built-in policy over hosts of unequal weight.

Envoy's load-balancer tests pick many times over a host set and compare each
host's share with the share the rule implies. Here: N = 100,000 picks over four
available hosts of weights [1, 2, 3, 4] (total W = 10), each pick driven as the
balancer drives it (outstanding +1, ``on_send``, then at once outstanding -1
and ``on_complete(host, 10 ms, OK)``), so every host is idle at every pick.
Every request has its own random 32-bit ``hash_key`` (and client address),
so hash policies see N distinct keys.

Expected share of host i, from each policy's docstring:

* weight-proportional policies (the rule honours weights): p_i = w_i / W =
  0.1, 0.2, 0.3, 0.4;
* policies documented to ignore weights: p_i = 1/4.

Tolerance. The count of host i is Binomial(N, p_i) (iid picks for random and
hash policies; deterministic cycles are exact, so even tighter), so its share
has standard error sqrt(p_i (1 - p_i) / N): 0.00095 for p = 0.1, 0.00137 for
p = 0.25, 0.00155 for p = 0.4. A share passes within Z = 5 standard errors
(a correct policy fails one of four hosts with probability < 3e-6). The
smallest bias caught is 5 SE: 0.0047 absolute (4.7 % relative) at p = 0.1,
0.0077 (1.9 %) at p = 0.4. Weights honoured where they should be ignored, or
the reverse, moves host 0 by 0.15: over 150 SE.

A hash ring adds the ring's own spread: K points at pseudo-random positions
(``vnodes`` per unit of weight, K = vnodes × W), a host with k of them owns
an arc of length Beta(k, K - k), variance p(1 - p)/(K + 1). The tolerance is
then Z·sqrt(p(1 - p)(1/N + 1/(K + 1))): 0.037 at p = 0.1 and 0.061 at p = 0.4
for NGINX's 160 points per weight, still far below the 0.15 of a weight rule
ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from lbsim import status
from lbsim.algorithms import HostSet, RequestView, available
from lbsim.streams import stream

WEIGHTS = [1, 2, 3, 4]
N = 100_000
Z = 5.0


@dataclass(frozen=True)
class Rule:
    """What a policy's docstring says its shares are, for one parameter set."""

    weighted: bool  # True: w_i / W; False: uniform
    params: tuple[tuple[str, Any], ...] = ()
    ring_points_per_weight: int = 0  # > 0: a hash ring with this many points per unit weight


RULES: dict[str, list[Rule]] = {
    "random": [Rule(weighted=False)],  # Envoy random: uniform over available hosts
    # Envoy round robin: unequal weights -> EDF, deadline 1/w, so w_i picks per W
    "round_robin": [Rule(weighted=True)],
    "weighted_round_robin": [Rule(weighted=True)],  # NGINX SWRR: w_i picks per W
    # Envoy least_request, unequal weights: EDF on w / (active + 1); idle -> w / 1
    "power_of_two": [Rule(weighted=True)],
    "ip_hash": [Rule(weighted=True)],  # NGINX: w = h % total_weight, walked by weight
    "ketama": [Rule(weighted=True, ring_points_per_weight=160)],  # NGINX: 160 x weight points
    # Envoy ring hash: a ring of at least 1024 points, w / W of them per host (102.4 per
    # unit weight here; the smaller figure widens the tolerance, never narrows it)
    "ring_hash": [Rule(weighted=True, ring_points_per_weight=102)],
    "maglev": [Rule(weighted=True)],  # Envoy Maglev: table entries in proportion to weight
    "consistent_hash": [
        Rule(weighted=True, params=(("method", "ring"),), ring_points_per_weight=160),
        Rule(weighted=True, params=(("method", "maglev"),)),  # entries ∝ weight
    ],
    "jsq_oracle": [Rule(weighted=False)],  # shortest true queue; idle: ties uniform
    # NGINX least_conn: every idle host ties at 0 conns -> SWRR over all: w_i per W
    "nginx_least_conn": [Rule(weighted=True)],
    # NGINX random: a point in [0, W) walked by weight (without `two`)
    "nginx_random": [Rule(weighted=True)],
    # HAProxy random(2): two weighted draws; idle hosts tie and the later draw, itself a
    # weighted draw, is kept -> w_i / W
    "haproxy_random": [Rule(weighted=True)],
    # Envoy peak EWMA ignores weights: at a fixed clock every host keeps the 10 ms
    # default (a 10 ms sample is no peak), costs tie, P2C of two distinct hosts and a
    # fair coin -> 1/4
    "peak_ewma": [Rule(weighted=False)],
    # join-idle-queue ignores weights: every host is idle at each pick, so the one
    # I-queue cycles through the hosts in turn (each rejoins at the back) -> 1/4
    "jiq": [Rule(weighted=False)],
    # Envoy client-side WRR: configured weights are replaced by ORCA weights; with no
    # reports every host has weight 1 -> plain round robin -> 1/4
    "client_side_weighted_round_robin": [Rule(weighted=False)],
}

# Policies whose share is not defined by the weights alone.
NOT_BY_WEIGHT = {
    # HAProxy leastconn keys an idle server 0 whatever its weight: with every
    # server idle at each pick, all tie and go round robin; weights act only
    # through the load, which golden sequences pin.
    "least_connections": "share set by the load (inflight/weight), not by the weight",
    # NGINX least_time picks the least avg × (1 + conns) / weight: with equal
    # latencies the heaviest host always wins; the share follows latencies.
    "least_response_time": "share set by measured latencies, not by the weight",
}


def builtins() -> list[str]:
    return [name for name, spec in available().items() if spec.origin == "built-in"]


def cases() -> list[Any]:
    out = []
    for name in builtins():
        for rule in RULES.get(name, []):
            label = "-".join([name, *(str(v) for _, v in rule.params)])
            out.append(pytest.param(name, rule, id=label))
    return out


def test_every_built_in_has_a_share_rule() -> None:
    # a new built-in needs its documented rule here; a renamed one, its entry moved
    classified = set(RULES) | set(NOT_BY_WEIGHT)
    assert set(builtins()) == classified, (
        sorted(set(builtins()) - classified),
        sorted(classified - set(builtins())),
    )


@pytest.mark.parametrize(("name", "rule"), cases())
def test_selection_shares_follow_the_documented_rule(name: str, rule: Rule) -> None:
    hosts = HostSet([f"s{i}" for i in range(len(WEIGHTS))], WEIGHTS)
    hosts.true_load = lambda i: hosts.outstanding[i]
    spec = available()[name]
    algorithm = spec.factory(hosts, stream(1, f"shares-{name}"), spec.params(**dict(rule.params)))
    keys = stream(1, "shares-keys").integers(0, 2**32, N).tolist()
    counts = np.zeros(len(WEIGHTS))
    view = RequestView()
    for key in keys:
        view.hash_key = view.client_address = key
        host = algorithm.pick(view)
        assert host is not None
        hosts.outstanding[host] += 1
        algorithm.on_send(host)
        hosts.outstanding[host] -= 1
        algorithm.on_complete(host, 0.01, status.OK)
        counts[host] += 1
    weights = np.asarray(WEIGHTS, float)
    p = weights / weights.sum() if rule.weighted else np.full(len(WEIGHTS), 1 / len(WEIGHTS))
    variance = p * (1 - p) / N
    if rule.ring_points_per_weight:
        points = rule.ring_points_per_weight * weights.sum()
        variance += p * (1 - p) / (points + 1)
    shares = counts / N
    tolerance = Z * np.sqrt(variance)
    assert (np.abs(shares - p) < tolerance).all(), (shares.round(4), p, tolerance.round(4))
