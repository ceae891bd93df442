"""Golden sequences for least_response_time, power_of_two, random, nginx_random,
haproxy_random and jsq_oracle, each derived by hand from the published rule
(the derivation is in the comments), with scripted random draws.

A scripted generator hands out the listed uniforms and then 0.0 (see
``ScriptedRng``); a draw ``u`` becomes an index ``int(u * n)`` or a point
``u * total_weight`` as each module's docstring says.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from lbsim.algorithms import available
from lbsim.algorithms.base import HostSet, Params, RequestView
from lbsim.algorithms.haproxy_random import HaproxyRandom, HaproxyRandomParams
from lbsim.algorithms.jsq_oracle import JsqOracle
from lbsim.algorithms.least_response_time import LeastResponseTime, LeastResponseTimeParams
from lbsim.algorithms.nginx_random import NginxRandom, NginxRandomParams
from lbsim.algorithms.power_of_two import PowerOfTwo, PowerOfTwoParams
from lbsim.algorithms.random import RandomChoice
from lbsim.status import OK, SERVER_ERROR, TIMEOUT
from tests.algorithms.test_algorithms_golden import complete, make_backends, scripted, send

RNG = np.random.default_rng(0)


def picks(alg: Any, count: int, tried: tuple[int, ...] = ()) -> list[int | None]:
    return [alg.pick(RequestView(0, tried=tried)) for _ in range(count)]


def pick_send(alg: Any, backends: HostSet) -> int:
    host = alg.pick(RequestView(0))
    assert host is not None
    send(alg, backends, host)
    return host


# --------------------------------------------------------------------------
# random: Envoy, hosts[random % n] over the available hosts, weights ignored


def test_random_uniform_index_over_available_ignoring_weights() -> None:
    backends = make_backends([1, 5, 1, 1])
    backends.available[2] = False
    # available [0, 1, 3]; int(u * 3): 0.1 -> 0, 0.4 -> 1, 0.7 -> 2 (host 3), 0.99 -> 2 (host 3)
    alg = RandomChoice(backends, scripted([0.1, 0.4, 0.7, 0.99]), Params())
    assert picks(alg, 4) == [0, 1, 3, 3]
    # tried {1}: candidates [0, 3]; int(u * 2): 0.6 -> 1 (host 3), 0.3 -> 0
    alg = RandomChoice(backends, scripted([0.6, 0.3]), Params())
    assert picks(alg, 2, tried=(1,)) == [3, 0]
    assert alg.pick(RequestView(0, tried=(0, 1, 3))) is None


def test_random_shares_are_equal_whatever_the_weights() -> None:
    """100k picks over weights 1, 2, 7: each share within 5 binomial sd of 1/3.

    sd = sqrt(1/3 * 2/3 / 1e5) = 0.0015, so 5 sd = 0.0075 (a false alarm has
    probability below 1e-6); a weighted draw would give 0.1 / 0.2 / 0.7.
    """
    n = 100_000
    alg = RandomChoice(make_backends([1, 2, 7]), np.random.default_rng(42), Params())
    counts = Counter(picks(alg, n))
    p = 1 / 3
    for host in range(3):
        assert abs(counts[host] / n - p) < 5 * (p * (1 - p) / n) ** 0.5


# --------------------------------------------------------------------------
# nginx_random: NGINX random [two [least_conn]]


def test_nginx_random_weighted_ranges() -> None:
    # weights 1, 2, 7: ranges [0,1) [1,3) [3,10); x = int(u * 10)
    backends = make_backends([1, 2, 7])
    alg = NginxRandom(backends, scripted([0.05, 0.15, 0.29, 0.3, 0.99]), NginxRandomParams())
    assert picks(alg, 5) == [0, 1, 1, 2, 2]
    # a down peer keeps its range: 0.5 -> x 5 -> peer 2, down: drawn again, 0.05 -> 0
    backends.available[2] = False
    alg = NginxRandom(backends, scripted([0.5, 0.05]), NginxRandomParams())
    assert alg.pick(RequestView(0)) == 0
    # a tried peer is drawn again too: 0.0 -> 0 (tried), 0.2 -> x 2 -> 1
    alg = NginxRandom(backends, scripted([0.0, 0.2]), NginxRandomParams())
    assert alg.pick(RequestView(0, tried=(0,))) == 1


def test_nginx_random_two_takes_idler_of_two_different_tie_to_second() -> None:
    backends = make_backends([1, 1, 1, 1])  # x = int(u * 4) is the peer
    backends.outstanding[:] = [3, 1, 1, 0]
    two = NginxRandomParams(two=True)
    # 0.3 -> 1; 0.3 -> 1 again: not a second peer, drawn again; 0.6 -> 2.
    # conns 1 vs 1: "peer.conns * prev.weight > prev.conns * peer.weight" fails -> second (2)
    assert NginxRandom(backends, scripted([0.3, 0.3, 0.6]), two).pick(RequestView(0)) == 2
    # 0.0 -> 0 (3), 0.9 -> 3 (0): 0 > 3 fails -> 3
    assert NginxRandom(backends, scripted([0.0, 0.9]), two).pick(RequestView(0)) == 3
    # 0.9 -> 3 (0), 0.0 -> 0 (3): 3 > 0 -> the first, 3
    assert NginxRandom(backends, scripted([0.9, 0.0]), two).pick(RequestView(0)) == 3
    # per weight: weights 1, 3 (ranges [0,1) [1,4)), conns 1, 2: 0.0 -> 0, 0.5 -> x 2 -> 1;
    # 2 * 1 > 1 * 3 fails (2/3 < 1/1) -> 1
    weighted = make_backends([1, 3])
    weighted.outstanding[:] = [1, 2]
    assert NginxRandom(weighted, scripted([0.0, 0.5]), two).pick(RequestView(0)) == 1


def test_nginx_random_two_with_two_peers_always_takes_the_idler() -> None:
    backends = make_backends([1, 1])
    backends.outstanding[:] = [1, 0]
    alg = NginxRandom(backends, np.random.default_rng(5), NginxRandomParams(two=True))
    assert set(picks(alg, 1000)) == {1}


def test_nginx_random_round_robin_after_more_than_20_failed_draws() -> None:
    # weights 1, 1, 1, peer 2 down; u = 0.9 -> x 2 -> peer 2 (rejected), 0.4 -> 1.
    backends = make_backends([1, 1, 1])
    backends.available[2] = False
    # 20 rejected draws (counter 20, not > 20) and the 21st draw is taken
    alg = NginxRandom(backends, scripted([0.9] * 20 + [0.4]), NginxRandomParams())
    assert alg.pick(RequestView(0)) == 1
    # 21 rejected draws: counter 21 > 20 -> smooth WRR over [0, 1]. From current
    # weights (0, 0): (1, 1), tie -> earlier peer 0, pays 2 -> (-1, 1); the
    # next pick fails the same way: (0, 2) -> 1, pays 2 -> (0, 0).
    alg = NginxRandom(backends, scripted([0.9] * 21 + [0.4]), NginxRandomParams())
    assert alg.pick(RequestView(0)) == 0
    alg = NginxRandom(backends, scripted([0.9] * 42), NginxRandomParams())
    assert picks(alg, 2) == [0, 1]
    # with two the first accepted draw counts: 0.0 -> 0 (counter 1), 19 rejected
    # (20), 0.4 -> 1: conns 0 vs 5 -> 1. One more rejection -> round robin -> 0.
    backends.outstanding[:] = [5, 0, 0]
    two = NginxRandomParams(two=True)
    alg = NginxRandom(backends, scripted([0.0] + [0.9] * 19 + [0.4]), two)
    assert alg.pick(RequestView(0)) == 1
    alg = NginxRandom(backends, scripted([0.0] + [0.9] * 20 + [0.4]), two)
    assert alg.pick(RequestView(0)) == 0


def test_nginx_random_single_peer_is_round_robin() -> None:
    alg = NginxRandom(make_backends([3]), RNG, NginxRandomParams(two=True))
    assert picks(alg, 3) == [0, 0, 0]
    assert alg.pick(RequestView(0, tried=(0,))) is None


# --------------------------------------------------------------------------
# haproxy_random: HAProxy random(draws), weighted draws, keep the less served per weight


def test_haproxy_random_keeps_less_served_per_weight_tie_to_later_draw() -> None:
    # weights 1, 3: point u * 4 in cumulative ends [1, 4]: u < 0.25 -> 0, else 1
    backends = make_backends([1, 3])
    params = HaproxyRandomParams()
    backends.outstanding[:] = [0, 2]
    # 0.5 -> 1, 0.1 -> 0: curr 0, prev 1: 0 * 3 > 2 * 1 fails -> 0
    assert HaproxyRandom(backends, scripted([0.5, 0.1]), params).pick(RequestView(0)) == 0
    # 0.1 -> 0, 0.5 -> 1: curr 1: 2 * 1 > 0 * 3 -> keep prev 0
    assert HaproxyRandom(backends, scripted([0.1, 0.5]), params).pick(RequestView(0)) == 0
    # equal per weight (1/1 = 3/3): 3 * 1 > 1 * 3 fails -> the later draw, either way
    backends.outstanding[:] = [1, 3]
    assert HaproxyRandom(backends, scripted([0.1, 0.5]), params).pick(RequestView(0)) == 1
    assert HaproxyRandom(backends, scripted([0.5, 0.1]), params).pick(RequestView(0)) == 0
    # with replacement: 0.6 and 0.9 both -> 1, not compared
    assert HaproxyRandom(backends, scripted([0.6, 0.9]), params).pick(RequestView(0)) == 1
    # one draw is a plain weighted draw: 0.2 -> point 0.8 -> 0
    one = HaproxyRandomParams(draws=1)
    assert HaproxyRandom(backends, scripted([0.2, 0.9]), one).pick(RequestView(0)) == 0
    with pytest.raises(ValidationError):
        HaproxyRandomParams(draws=0)


def test_haproxy_random_three_draws_tried_and_unavailable() -> None:
    backends = make_backends([1, 1, 1])  # ends [1, 2, 3], point u * 3
    backends.outstanding[:] = [2, 1, 0]
    # 0.0 -> 0 (2), 0.5 -> 1 (1): 1 > 2 fails -> 1; 0.9 -> 2 (0): 0 > 1 fails -> 2
    three = HaproxyRandomParams(draws=3)
    assert HaproxyRandom(backends, scripted([0.0, 0.5, 0.9]), three).pick(RequestView(0)) == 2
    # weights 1, 3, 1 and tried {1}: draws over [0, 2], ends [1, 2], point u * 2:
    # 0.6 -> 2, 0.1 -> 0; both idle: the later draw, 0
    backends = make_backends([1, 3, 1])
    alg = HaproxyRandom(backends, scripted([0.6, 0.1]), HaproxyRandomParams())
    assert alg.pick(RequestView(0, tried=(1,))) == 0
    assert alg.pick(RequestView(0, tried=(0, 1, 2))) is None
    # an unavailable host leaves the draws: same ends [1, 2] over [0, 2]
    backends.update([True, False, True])
    alg = HaproxyRandom(backends, scripted([0.6, 0.6]), HaproxyRandomParams())
    assert alg.pick(RequestView(0)) == 2


# --------------------------------------------------------------------------
# power_of_two: Envoy least_request


def test_power_of_two_equal_weights_scripted_draws() -> None:
    backends = make_backends([1, 1, 1, 1])
    backends.outstanding[:] = [3, 1, 1, 0]
    params = PowerOfTwoParams()
    # index int(u * 4): 0.3 -> 1, 0.6 -> 2 (1 vs 1: a tie keeps the first draw)
    assert PowerOfTwo(backends, scripted([0.3, 0.6]), params).pick(RequestView(0)) == 1
    # 0.0 -> 0 (3), 0.3 -> 1 (1): strictly fewer replaces
    assert PowerOfTwo(backends, scripted([0.0, 0.3]), params).pick(RequestView(0)) == 1
    # 0.9 -> 3 (0), 0.0 -> 0 (3): the first stays
    assert PowerOfTwo(backends, scripted([0.9, 0.0]), params).pick(RequestView(0)) == 3
    # with replacement: 0.5 and 0.55 -> 2 twice
    assert PowerOfTwo(backends, scripted([0.5, 0.55]), params).pick(RequestView(0)) == 2
    # three choices: 0.3 -> 1 (1), 0.9 -> 3 (0) replaces, 0.6 -> 2 (1) does not
    three = PowerOfTwoParams(choices=3)
    assert PowerOfTwo(backends, scripted([0.3, 0.9, 0.6]), three).pick(RequestView(0)) == 3
    # tried {3}: draws over [0, 1, 2], int(u * 3): 0.9 -> 2 (1), 0.4 -> 1 (1): tie -> 2
    alg = PowerOfTwo(backends, scripted([0.9, 0.4]), params)
    assert alg.pick(RequestView(0, tried=(3,))) == 2
    assert alg.pick(RequestView(0, tried=(0, 1, 2, 3))) is None
    with pytest.raises(ValidationError):
        PowerOfTwoParams(choices=1)
    with pytest.raises(ValidationError):
        PowerOfTwoParams(active_request_bias=-0.5)


def test_power_of_two_with_two_hosts_takes_the_busier_a_quarter_of_the_time() -> None:
    """10k picks, outstanding 1 and 0: the busier host only when both draws hit it, p = 1/4.

    sd = sqrt(0.25 * 0.75 / 1e4) = 0.0043; 5 sd = 0.022 (false alarm below 1e-6).
    """
    n = 10_000
    backends = make_backends([1, 1])
    backends.outstanding[:] = [1, 0]
    alg = PowerOfTwo(backends, np.random.default_rng(9), PowerOfTwoParams())
    share = Counter(picks(alg, n))[0] / n
    assert abs(share - 0.25) < 5 * (0.25 * 0.75 / n) ** 0.5


def test_power_of_two_unequal_weights_edf_with_active_request_bias() -> None:
    """EDF, weight = w / (active + 1) at the pick (bias 1), active counted before the send.

    Weights 1, 2, nothing completes. Start: time 0, host 0 at 1/1 = 1.0
    (insertion 0), host 1 at 1/2 = 0.5 (insertion 1).
    1. min 0.5 -> 1; time 0.5; 2/(0+1) = 2 -> 0.5 + 0.5 = 1.0 (ins 2). active [0, 1]
    2. 1.0 (ins 0) before 1.0 (ins 2) -> 0; time 1; 1/1 -> 2.0 (ins 3). active [1, 1]
    3. 1.0 -> 1; 2/(1+1) = 1 -> 2.0 (ins 4). active [1, 2]
    4. 2.0 (ins 3) -> 0; time 2; 1/(1+1) = 0.5 -> 4.0 (ins 5). active [2, 2]
    5. 2.0 (ins 4) -> 1; 2/(2+1) -> 2 + 1.5 = 3.5 (ins 6). active [2, 3]
    6. 3.5 -> 1; 2/(3+1) = 0.5 -> 5.5. active [2, 4]
    7. 4.0 -> 0.
    """
    backends = make_backends([1, 2])
    alg = PowerOfTwo(backends, RNG, PowerOfTwoParams())
    assert [pick_send(alg, backends) for _ in range(7)] == [1, 0, 1, 0, 1, 1, 0]


def test_power_of_two_bias_zero_is_weighted_round_robin_and_bias_two() -> None:
    # bias 0: deadlines advance by 1/w whatever the load: host 0 at 1.0, host 1 at 0.5;
    # 1 (-> 1.0, ins 2), 0 (1.0 ins 0 first; -> 2.0), 1 (-> 1.5), 1 (-> 2.0, ins 5),
    # 0 (2.0 ins 3 first; -> 3.0), 1 (2.0 ins 5 -> 2.5)
    backends = make_backends([1, 2])
    alg = PowerOfTwo(backends, RNG, PowerOfTwoParams(active_request_bias=0.0))
    assert [pick_send(alg, backends) for _ in range(6)] == [1, 0, 1, 1, 0, 1]
    # weights 1, 4, active [0, 1]: bias 1 gives host 1 weight 4/2 = 2 (deadline 0.5) and
    # it goes first; bias 2 gives 4/2^2 = 1 (deadline 1.0, inserted after host 0): host 0
    for bias, first in [(1.0, 1), (2.0, 0)]:
        backends = make_backends([1, 4])
        backends.outstanding[:] = [0, 1]
        alg = PowerOfTwo(backends, RNG, PowerOfTwoParams(active_request_bias=bias))
        assert alg.pick(RequestView(0)) == first


def test_power_of_two_edf_passes_over_tried_hosts_keeping_their_deadlines() -> None:
    # weights 1, 2: host 0 at 1.0, host 1 at 0.5. Tried {1}: 1 is passed over, 0 is
    # picked (-> 2.0); host 1 still has 0.5, so it is next, then at 1.0 again.
    backends = make_backends([1, 2])
    alg = PowerOfTwo(backends, RNG, PowerOfTwoParams())
    assert alg.pick(RequestView(0, tried=(1,))) == 0
    assert picks(alg, 2) == [1, 1]
    # every host tried: None, and the schedule is unchanged (fresh one: 1 first)
    alg = PowerOfTwo(backends, RNG, PowerOfTwoParams())
    assert alg.pick(RequestView(0, tried=(0, 1))) is None
    assert alg.pick(RequestView(0)) == 1


def test_power_of_two_equal_is_decided_over_available_hosts() -> None:
    # weights 1, 2, 1 with host 1 unavailable: equal weights -> draws over [0, 2]:
    # int(0.9 * 2) = 1 -> host 2, int(0.0) -> host 0, both idle -> the first, 2.
    # (An EDF schedule would give host 0, inserted first at the same deadline.)
    backends = make_backends([1, 2, 1])
    backends.update([True, False, True])
    alg = PowerOfTwo(backends, scripted([0.9, 0.0]), PowerOfTwoParams())
    assert alg.pick(RequestView(0)) == 2


# --------------------------------------------------------------------------
# least_response_time: NGINX least_time last_byte


def test_least_response_time_integer_ema_of_successes_only() -> None:
    backends = make_backends([1, 1])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams())
    expected = [
        (0.100, 100),  # the first sample as is
        (0.200, 105),  # int(0.05 * 200 + 0.95 * 100 + 0.5) = int(105.5)
        (0.050, 102),  # int(2.5 + 99.75 + 0.5) = int(102.75)
        (1.000, 147),  # int(50 + 96.9 + 0.5) = int(147.4)
    ]
    for latency, average in expected:
        send(alg, backends, 0)
        complete(alg, backends, 0, latency)
        assert alg.averages[0] == average
    for status in (TIMEOUT, SERVER_ERROR):  # failed attempts never enter
        send(alg, backends, 0)
        backends.outstanding[0] -= 1
        alg.on_complete(0, 30.0, status)
        assert alg.averages[0] == 147
    # whole ms (0.1234 s -> 123); an average of 0 takes the next sample as is
    alg.on_complete(1, 0.0001, OK)
    assert alg.averages[1] == 0
    alg.on_complete(1, 0.1234, OK)
    assert alg.averages[1] == 123


def test_least_response_time_eta_buckets_and_clamp() -> None:
    backends = make_backends([1])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams())
    # (average, conns) -> (rt > 5000 ? 5000 : rt + 20 - rt % 20) * (1 + conns)
    cases = [
        ((0, 0), 20),  # unmeasured: 20 ms
        ((0, 2), 60),  # 20 * (1 + 2)
        ((100, 0), 120),  # a multiple of 20 still moves up a bucket
        ((101, 0), 120),
        ((119, 1), 240),
        ((5000, 0), 5020),  # not above 5000: bucketed
        ((5001, 0), 5000),  # above: clamped
        ((9000, 1), 10000),
    ]
    for (average, conns), eta in cases:
        alg.averages[0] = average
        backends.outstanding[0] = conns
        assert alg.eta(0) == eta


def test_least_response_time_ties_go_smooth_weighted_round_robin() -> None:
    """Three equal unmeasured peers; current weights c, conns k; eta = 20 (1 + k).

    1. eta 20, 20, 20: all tied; c (1, 1, 1) -> 0 (first max), pays 3: (-2, 1, 1)
    2. 40, 20, 20: 1 and 2 tied; pass over them: c (-2, 2, 2) -> 1, pays 2: (-2, 0, 2)
    3. 40, 40, 20: 2 alone, no pass
    4. 40, 40, 40: c (-1, 1, 3) -> 2, pays 3: (-1, 1, 0)
    5. 40, 40, 60: 0 and 1: c (0, 2, 0) -> 1, pays 2: (0, 0, 0)
    Then peer 0 answers in 30 ms: rt 30 -> 40, conns 0: eta 40 < 60, 60 -> 0.
    """
    backends = make_backends([1, 1, 1])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams())
    assert [pick_send(alg, backends) for _ in range(5)] == [0, 1, 2, 2, 1]
    assert alg.current == [0, 0, 0]
    complete(alg, backends, 0, 0.030)
    assert pick_send(alg, backends) == 0


def test_least_response_time_weighted_ties_with_nginx_leader_weight_test() -> None:
    """Weights 1, 2, 1; averages 100, 230, 100 -> eta 120, 240, 120 (no sends).

    eta / weight = 120 for all three: tied. NGINX's pass tests ``eta *
    leader.weight == best_eta * peer.weight`` with ``best_eta`` = 120 of peer
    0 but the weight of the current leader:
    1. c (0,0,0): 0 -> c0 1 (total 1); 1: 240*1 == 120*2 -> c1 2 (total 3), leads;
       2: 120*2 != 120*1 -> left out. 1 wins, pays 3: (1, -1, 0)
    2. 0: c0 2 (1); 1: c1 1 (3), 0 still leads; 2: 120*1 == 120*1 -> c2 1 (4).
       0 wins, pays 4: (-2, 1, 1)
    3. 0: c0 -1 (1); 1: c1 3 (3), leads; 2 left out. 1 wins: (-1, 0, 1)
    A pass over all three tied peers would give 1, 0, 2 instead.
    """
    backends = make_backends([1, 2, 1])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams())
    alg.averages[:] = [100, 230, 100]
    assert picks(alg, 3) == [1, 0, 1]
    assert alg.current == [-1, 0, 1]
    # 0 and 1 tied alone (eta 120 and 240 with weights 1, 2): c (1, 2) -> 1, pays 3
    pair = LeastResponseTime(make_backends([1, 2]), RNG, LeastResponseTimeParams())
    pair.averages[:] = [100, 230]
    assert pair.pick(RequestView(0)) == 1
    assert pair.current == [1, -1]


def test_least_response_time_clock_is_a_lower_bound_from_latencies() -> None:
    backends = make_backends([1, 1])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams())
    send(alg, backends, 0)  # both sent at clock 0
    send(alg, backends, 0)
    complete(alg, backends, 0, 2.0)  # sent no earlier than 0: clock 0 + 2
    assert alg.clock == 2.0
    complete(alg, backends, 0, 1.0)  # max(2, 0 + 1)
    assert alg.clock == 2.0
    send(alg, backends, 1)  # at clock 2
    complete(alg, backends, 1, 0.5)
    assert alg.clock == 2.5
    alg.on_complete(1, 9.0, OK)  # no send known: no bound, the clock stays
    assert alg.clock == 2.5
    # A sent at 2.5, B at 3.5 (after 1 s on host 1); the answer in 4 s may be A's:
    # the bound is the earliest send still out, 2.5 + 4 (B's send would say 7.5)
    send(alg, backends, 0)
    send(alg, backends, 1)
    complete(alg, backends, 1, 1.0)
    assert alg.clock == 3.5
    send(alg, backends, 0)
    complete(alg, backends, 0, 4.0)
    assert alg.clock == 6.5
    complete(alg, backends, 0, 5.0)  # the latest send is forgotten: 2.5 + 5
    assert alg.clock == 7.5


def test_least_response_time_idle_halving() -> None:
    """fail_timeout 10: rt >> ((now - checked) // 11) once now - checked > 10.

    Averages 4000, 100 (set), peer 2 only moves the clock: sent at 0, answers
    in 21 s -> clock 21, average 21000. checked (0, 0, 0):
    eta 0: 4000 >> 1 = 2000 -> 2020; 1: 100 >> 1 = 50 -> 60; 2: 10500 -> 5000.
    The pick takes 1 and sets checked[1] = 21 (21 - 0 > 10): eta 1 = 120.
    Peer 2 again, 12 s: clock 33, average int(600 + 19950 + 0.5) = 20550.
    eta 0: 4000 >> 3 = 500 -> 520; 1: 33 - 21 = 12 > 10 -> 50 -> 60;
    2: 20550 >> 3 = 2568 -> 2580.
    """
    backends = make_backends([1, 1, 1])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams())
    alg.averages[:2] = [4000, 100]
    send(alg, backends, 2)
    complete(alg, backends, 2, 21.0)
    assert [alg.eta(i) for i in range(3)] == [2020, 60, 5000]
    assert alg.pick(RequestView(0)) == 1
    assert alg.checked == [0, 21, 0]
    assert alg.eta(1) == 120
    send(alg, backends, 2)
    complete(alg, backends, 2, 12.0)
    assert alg.averages[2] == 20550
    assert [alg.eta(i) for i in range(3)] == [520, 60, 2580]
    # a failure sets checked to now (whole seconds): 33 + 0.9 -> 33
    send(alg, backends, 0)
    backends.outstanding[0] -= 1
    alg.on_complete(0, 0.9, TIMEOUT)
    assert alg.checked[0] == 33
    assert alg.eta(0) == 4020


def test_least_response_time_long_idle_shifts_to_zero() -> None:
    # fail_timeout 0: one halving per second; 70 s idle -> shift 70 >= 64 -> rt 0 -> 20
    backends = make_backends([1, 1])
    alg = LeastResponseTime(backends, RNG, LeastResponseTimeParams(fail_timeout=0))
    alg.averages[0] = 4000
    send(alg, backends, 1)
    complete(alg, backends, 1, 70.0)
    assert alg.eta(0) == 20
    with pytest.raises(ValidationError):
        LeastResponseTimeParams(fail_timeout=-1)


# --------------------------------------------------------------------------
# jsq_oracle: true load, ties at random


def test_jsq_oracle_reads_true_load_and_skips_tried() -> None:
    true = [5, 2, 7, 2]
    backends = HostSet(["a", "b", "c", "d"], [1, 1, 1, 1], true_load=lambda i: true[i])
    backends.outstanding[:] = [0, 9, 0, 0]  # the balancer's own counts are ignored
    alg = JsqOracle(backends, scripted([0.2, 0.7]), Params())
    # ties 1 and 3 (load 2): index int(u * 2): 0.2 -> 1, 0.7 -> 3
    assert picks(alg, 2) == [1, 3]
    assert alg.pick(RequestView(0, tried=(1, 3))) == 0  # next lowest true load, 5
    backends.update([True, False, True, True])
    assert alg.pick(RequestView(0)) == 3
    assert alg.pick(RequestView(0, tried=(0, 2, 3))) is None
    with pytest.raises(ValueError, match="true load"):
        JsqOracle(make_backends([1]), RNG, Params())


# --------------------------------------------------------------------------
# every one of these: a retry never re-picks a tried host


TRIED_CASES = [
    ("random", {}),
    ("nginx_random", {}),
    ("nginx_random", {"two": True}),
    ("haproxy_random", {}),
    ("haproxy_random", {"draws": 3}),
    ("power_of_two", {}),
    ("power_of_two", {"active_request_bias": 0.5}),
    ("least_response_time", {}),
    ("jsq_oracle", {}),
]


@pytest.mark.parametrize(("name", "overrides"), TRIED_CASES)
@pytest.mark.parametrize("weights", [[1] * 6, [1, 2, 3, 1, 2, 3]], ids=["equal", "unequal"])
def test_never_repicks_a_tried_host(
    name: str, overrides: dict[str, Any], weights: list[int]
) -> None:
    """2000 picks with random loads, a random host down and random tried sets:
    the pick is available and untried, or None exactly when all available were tried."""
    r = np.random.default_rng(11)
    backends = HostSet([f"s{i}" for i in range(6)], weights, true_load=lambda i: 0)
    spec = available()[name]
    alg = spec.factory(backends, np.random.default_rng(3), spec.params(**overrides))
    for _ in range(2000):
        backends.outstanding[:] = r.integers(0, 4, 6).tolist()
        backends.update([bool(x) for x in r.random(6) > 0.15])
        tried = tuple(int(i) for i in np.flatnonzero(r.random(6) < 0.5))
        host = alg.pick(RequestView(0, tried=tried))
        left = [i for i in backends.eligible() if i not in tried]
        if left:
            assert host in left
        else:
            assert host is None
