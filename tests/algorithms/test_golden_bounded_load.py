"""hash_balance_factor (Envoy bounded-load consistent hashing), derived by
hand from lbsim/algorithms/policies/bounded_load.py: capacity
``slots = max(ceil(((A + 1) · factor + 99) // 100 · w), 1)``, a host over it
is left for the first fitting host of a shuffle seeded by the request hash.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pydantic import ValidationError

from lbsim.algorithms import available
from lbsim.algorithms.base import HostSet, RequestView
from lbsim.algorithms.hashing import key_text, xxh64
from lbsim.algorithms.policies.bounded_load import BoundedLoad, mt19937_words
from lbsim.algorithms.ring_hash import RingHash

RNG = np.random.default_rng(0)


def build(name: str, outstanding: list[int], **params: object) -> tuple[object, HostSet]:
    hosts = HostSet([f"s{i}" for i in range(len(outstanding))], [1] * len(outstanding))
    hosts.outstanding[:] = outstanding
    spec = available()[name]
    return spec.factory(hosts, RNG, spec.params(**params)), hosts


def key_on(host: int, tried: tuple[int, ...] = ()) -> int:
    """A key the plain ring sends to ``host`` (the ring itself is golden-tested)."""
    plain, _ = build("ring_hash", [0, 0, 0, 0])
    return next(k for k in range(10_000) if plain.pick(RequestView(k, tried=tried)) == host)  # type: ignore[attr-defined]


def test_generator_is_std_mt19937() -> None:
    # the C++ standard: the 10000th output of a default-seeded (5489) mt19937 is 4123659995
    assert next(itertools.islice(mt19937_words(5489), 9999, None)) == 4123659995
    assert next(mt19937_words(5489)) == 3499211612


def test_off_by_default_and_validated() -> None:
    plain, _ = build("ring_hash", [0, 0])
    assert type(plain) is RingHash
    bounded, _ = build("maglev", [0, 0], hash_balance_factor=150, table_size=7)
    assert isinstance(bounded, BoundedLoad)
    with pytest.raises(ValidationError, match="hash_balance_factor"):
        available()["ketama"].params(hash_balance_factor=99)


def test_overloaded_host_moves_to_the_first_fitting_host_of_the_shuffle() -> None:
    # 4 equal hosts (w = 0.25), factor 150, outstanding [3, 0, 0, 0]: A = 3,
    # total_slots = (4 · 150 + 99) // 100 = 6, slots = ceil(6 · 0.25) = 2;
    # host 0 has 3 > 2: overloaded, the others 0 / 2 fit.
    key = key_on(0)
    alg, _ = build("ring_hash", [3, 0, 0, 0], hash_balance_factor=150)
    # shuffle of [0, 1, 2, 3] by mt19937(hash): step 0 draws j in [0, 4) as
    # word // 2^30 (never rejected); its host is taken unless it is host 0,
    # else step 1 draws j in [0, 3) as word // 1431655765.
    words = mt19937_words(xxh64(key_text(key)))
    order = [0, 1, 2, 3]
    j = next(words) >> 30
    order[0], order[j] = order[j], order[0]
    if order[0] == 0:
        j = 1 + next(words) // 1431655765
        order[1], order[j] = order[j], order[1]
        expected = order[1]
    else:
        expected = order[0]
    assert alg.pick(RequestView(key)) == expected  # type: ignore[attr-defined]
    # at the bound (2 of 2 slots) the ring's host is kept
    alg, _ = build("ring_hash", [2, 0, 0, 0], hash_balance_factor=150)
    assert alg.pick(RequestView(key)) == 0  # type: ignore[attr-defined]


def test_least_overloaded_when_nothing_fits() -> None:
    # outstanding [4, 3, 0, 0], factor 100: A = 7, total_slots = 8, slots = 2;
    # host 0: 2.0, host 1: 1.5; hosts 2, 3 fit but were tried. The ring sends
    # the key (walking past tried hosts) to 0; nothing fits, host 1 is the
    # least overloaded (1.5 < 2.0).
    key = key_on(0, tried=(2, 3))
    alg, _ = build("ring_hash", [4, 3, 0, 0], hash_balance_factor=100)
    assert alg.pick(RequestView(key, attempt=1, tried={2, 3})) == 1  # type: ignore[attr-defined]
