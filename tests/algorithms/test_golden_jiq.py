"""Golden sequences for jiq (join-idle-queue, Lu et al. 2011), derived by
hand from the rule in lbsim/algorithms/policies/jiq.py: an idle server joins
the I-queue of dispatcher ``int(u · dispatchers)`` (JIQ-Random) or the
shortest one (JIQ-SQ); a dispatcher takes the head of its I-queue, else the
available host ``int(u · n)``. Scripted uniforms as in the other golden tests.
"""

from __future__ import annotations

import pytest

from lbsim.algorithms import available
from lbsim.algorithms.base import HostSet, RequestView
from lbsim.algorithms.policies.jiq import JoinIdleQueue, JoinIdleQueueParams
from lbsim.status import OK
from tests.algorithms.test_algorithms_golden import scripted

REQUEST = RequestView(0)


def dispatchers(
    load: list[int], scripts: list[list[float]], join: str = "random"
) -> list[JoinIdleQueue]:
    group = []
    for script in scripts:
        hosts = HostSet([f"s{i}" for i in range(len(load))], [1] * len(load), load.__getitem__)
        group.append(JoinIdleQueue(hosts, scripted(script), JoinIdleQueueParams(join=join)))  # type: ignore[arg-type]
    group[0].join_peers(group)
    return group


def test_random_join_iqueue_first_then_random_fallback() -> None:
    assert available()["jiq"].factory is JoinIdleQueue
    load = [0, 0, 0]
    # join_peers, A's draws: host 0 u=0.7 -> int(1.4) = 1 (B); host 1 u=0.2 -> A;
    # host 2 u=0.9 -> B. I-queues: A [1], B [0, 2]. (A constructor alone: no draw.)
    a, b = dispatchers(load, [[0.7, 0.2, 0.9, 0.5, 0.3], [0.1, 0.6]])
    assert (list(a.iqueue), list(b.iqueue)) == ([1], [0, 2])
    assert a.pick(REQUEST) == 1  # head of A's I-queue
    load[1] += 1
    assert a.pick(REQUEST) == 1  # A's I-queue empty: u=0.5 -> int(1.5) = host 1
    load[1] += 1
    assert [b.pick(REQUEST), b.pick(REQUEST)] == [0, 2]
    load[0] += 1
    load[2] += 1
    assert b.pick(REQUEST) == 0  # B empty: u=0.1 -> host 0
    # host 2 finishes its only request (answered through B): idle, B's u=0.6 -> B
    load[2] -= 1
    b.on_complete(2, 0.01, OK)
    assert list(b.iqueue) == [2]
    # host 1 finishes one of two: still busy, no report (no draw)
    load[1] -= 1
    a.on_complete(1, 0.01, OK)
    assert list(a.iqueue) == []
    load[1] -= 1
    a.on_complete(1, 0.01, OK)  # idle: A's u=0.3 -> A
    assert list(a.iqueue) == [1]
    a.on_complete(1, 0.01, OK)  # listed already: not again
    assert list(a.iqueue) == [1] and list(b.iqueue) == [2]


def test_shortest_join_and_retries() -> None:
    load = [0, 0, 0]
    # JIQ-SQ, no draws: host 0 -> A (0 vs 0, lowest), host 1 -> B (A has 1), host 2 -> A
    a, b = dispatchers(load, [[], []], join="shortest")
    assert (list(a.iqueue), list(b.iqueue)) == ([0, 2], [1])
    # a retry that tried host 0 takes host 2 and leaves 0 at the head
    assert a.pick(RequestView(0, attempt=1, tried={0})) == 2
    assert list(a.iqueue) == [0]
    # host 0 goes away: its entry is dropped; fallback u=0.0 -> first available (1)
    a.backends.update([False, True, True])
    assert a.pick(REQUEST) == 1
    assert list(a.iqueue) == []
    assert a.pick(RequestView(0, attempt=1, tried={1, 2})) is None


def test_needs_idle_reports() -> None:
    with pytest.raises(ValueError, match="true_load"):
        JoinIdleQueue(HostSet(["s0"], [1]), scripted([]), JoinIdleQueueParams())  # type: ignore[arg-type]
