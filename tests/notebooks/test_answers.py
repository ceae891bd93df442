"""Every exercise check accepts the right answer and rejects a wrong one,
with a hint. Right answers are derived here by hand from the formulas."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from notebooks import answers

# (check, right answer, wrong answer): at least one per lesson, here every exercise.
CASES: list[tuple[Callable[[Any], None], Any, Any]] = [
    (answers.check_01_ex1, 10.0, 9.0),  # 1/(1 − 0.9); 1/(1−ρ)·ρ is 9
    (answers.check_01_ex2, 5.0, 1.8),  # 10/2; 0.9/0.5 is the naive ratio of loads
    (answers.check_01_ex3, 0.5541, 0.8),  # Erlang C(5, 4); ρ is M/M/1's P(wait)
    (answers.check_02_ex1, 2.6089, 10.0),  # Σ 0.9^(2^i − 2); 10 is d = 1
    (answers.check_02_ex2, 2.05, 2.61),  # near T_3 ≈ 2.03; 2.61 is T_2
    (answers.check_02_ex3, "ip_hash", "random"),
    (answers.check_03_ex1, (10.0, 12.0), (4.0, 6.0)),  # (fall−1)·inter ignores the timeout
    (answers.check_03_ex2, (40.0, 70.0), (30.0, 60.0)),
    (answers.check_03_ex3, 12.0, 3.0),  # 6/0.5; 3 is 6 × 0.5
    (answers.check_04_ex1, 627, 200),  # the measured count; 200 is λ, not λ·T
    (answers.check_04_ex2, 4, 3),  # retries plus the first attempt
    (answers.check_04_ex3, 1.2, 0.2),
    (answers.check_05_ex1, 79.0, 80.0 / 2),  # N/(R+Z); 40 is N/Z/2 (a think-time slip)
    (answers.check_05_ex2, 40, 160),  # one server's share; 160 is every session
    (answers.check_05_ex3, 0.55, 0.4),  # the NAT share alone forgets the others' quarter
    (answers.check_05_ex4, 0.020, 0.040),  # 0.040 is the ceiling, not the mean
    (answers.check_06_ex1, 80000.0, 100000.0),  # 4/(10+40 µs); 4/40 µs forgets the connection
    (answers.check_06_ex2, 0.69, 1.5),  # 3000 × 0.23 ms; 1.5 ignores resumption
    (answers.check_06_ex3, 7.0, 6.0),  # 35/5; 30/5 forgets L7 pays the connection too
    (answers.check_07_ex1, 0.634, 0.01),  # 1 − 0.99^100; 0.01 is one leaf's chance
    (answers.check_07_ex2, 1.75, 3.0),  # 1 + 0.5 + 0.25; 3 is the worst case N + 1
    (answers.check_07_ex3, 0.264, 0.634),  # 0.634 forgets the quorum
    (answers.check_08_ex1, 150.0, 90.0),  # 3 × 30 + 60; 90 forgets the TTL
    (answers.check_08_ex2, 2.0, 0.5),  # 40 / 20; 0.5 is TTL / resolvers
    (answers.check_08_ex3, 1.0, 1 / 3),  # 1/3 treats weight 0 as a share
    (answers.check_09_ex1, 990, 900),  # 900 forgets the boot time
    (answers.check_09_ex2, 15, 6),  # 6 is the fleet it already has
    (answers.check_09_ex3, 150, 2.5),  # 2.5 is per second, not per period
    (answers.check_10_ex1, 23.03, 4.6),  # ln 100 / 0.2; 4.6 forgets the rate
    (answers.check_10_ex2, 4, 2),
    (answers.check_10_ex3, (18.9, 25.9), (15.0, 20.0)),
]


def test_every_check_has_a_case() -> None:
    names = {name for name in dir(answers) if name.startswith("check_")}
    assert names == {check.__name__ for check, _, _ in CASES}


@pytest.mark.parametrize(
    ("check", "right", "wrong"), CASES, ids=lambda c: getattr(c, "__name__", "")
)
def test_right_passes_wrong_fails(check: Callable[[Any], None], right: Any, wrong: Any) -> None:
    check(right)
    with pytest.raises(AssertionError, match="Hint: "):
        check(wrong)


def test_a_non_number_is_named() -> None:
    with pytest.raises(AssertionError, match="expected a number, got None"):
        answers.check_01_ex1(None)  # type: ignore[arg-type]


def test_supermarket_matches_the_published_values() -> None:
    # Mitzenmacher (2001), λ = 0.9: d = 1 → 10, d = 2 → 2.61, d = 3 → 2.03 (two decimals).
    assert answers.supermarket(0.9, 1) == pytest.approx(10.0)
    assert round(answers.supermarket(0.9, 2), 2) == 2.61
    assert round(answers.supermarket(0.9, 3), 2) == 2.03
    # d = 2 by hand: 1 + 0.9^2 + 0.9^6 + 0.9^14 + 0.9^30 + ... = 2.6089...
    by_hand = 1 + 0.9**2 + 0.9**6 + 0.9**14 + 0.9**30 + 0.9**62 + 0.9**126
    assert math.isclose(answers.supermarket(0.9, 2), by_hand, rel_tol=1e-9)
