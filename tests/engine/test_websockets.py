"""scenarios/websockets.yaml: the imbalance after a server joins persists
under round robin and not under least connections, against the M/G/∞
theory of the open WebSockets.

WebSockets open as a Poisson process of rate λ and live an exponential
time of mean D, so the number open is Poisson (M/G/∞). web-2 joins at T.
At t = T + s the ones opened before T (λD(1 − e^(−T/D))·e^(−s/D) of them)
sit on web-0 and web-1, half each (round robin alternates); the ones opened
since (λD(1 − e^(−s/D))) are split in thirds. Averaged over the measured
window s ∈ [a, b], with ē = D/(b − a)·(e^(−a/D) − e^(−b/D)):

    web-0 = λD [(1 − e^(−T/D)) ē / 2 + (1 − ē) / 3],
    mean  = λD [(1 − e^(−T/D)) ē + (1 − ē)] / 3,

and connection_imbalance (max/mean) = web-0 / mean. Least connections
sends every new WebSocket to web-2 until it holds as many as the others,
at s* = D ln(1 + (1 − e^(−T/D))/2) (fluid model: web-0 decays as e^(−s/D),
web-2 fills as λD(1 − e^(−s/D))); after s* the counts stay equal.
"""

from __future__ import annotations

import math

import pytest

import lbsim
from lbsim.scenario import load
from tests.conftest import ROOT

PATH = ROOT / "scenarios" / "websockets.yaml"


@pytest.mark.slow
def test_round_robin_keeps_the_imbalance_least_connections_removes_it() -> None:
    variant = load(PATH).variants[0].scenario
    websocket = variant.clients.connections.websocket  # type: ignore[union-attr]
    assert websocket is not None and variant.clients.arrivals.rate is not None
    rate, life = variant.clients.arrivals.rate, websocket.duration.mean
    join = variant.events[0].for_
    assert join is not None and variant.events[0].action == "drain"
    a, b = variant.warmup - join, variant.duration - join
    before = 1 - math.exp(-join / life)
    e = life / (b - a) * (math.exp(-a / life) - math.exp(-b / life))
    web0 = rate * life * (before * e / 2 + (1 - e) / 3)
    mean = rate * life * (before * e + (1 - e)) / 3
    expected = web0 / mean
    assert life * math.log(1 + before / 2) < a  # least connections caught up before the window
    # Tolerance: each server's count is Poisson, so its relative sd is
    # 1/sqrt(count) (time averaging only lowers it); the ratio's sd is
    # about expected·sqrt(1/web0 + 1/(3·mean)) ≈ 0.027 here. 3 sd, plus the
    # upward bias of taking the larger of web-0 and web-1 (at most
    # sd(web0)/sqrt(pi) in count, 0.01 in the ratio).
    sd = expected * math.sqrt(1 / web0 + 1 / (3 * mean))
    bias = math.sqrt(web0) / math.sqrt(math.pi) / mean
    result = lbsim.run(PATH, compare={"balancer.algorithm": ["round_robin", "least_connections"]})
    got = result.summary.set_index("variant")["connection_imbalance"]
    assert abs(got["round_robin"] - expected) < 3 * sd + bias
    assert expected - 3 * sd > 1 + 1 / math.sqrt(mean)  # the two bounds below do not overlap
    # Least connections: equal counts after s*; allow the relative Poisson
    # sd of one server's count (what even independent random placement
    # would show), far below round robin's excess of 0.17.
    assert got["least_connections"] < 1 + 1 / math.sqrt(mean)
