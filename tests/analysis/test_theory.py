"""Closed forms against known values (textbook numbers)."""

import math

import pytest

from lbsim.analysis import theory


def test_mm1() -> None:
    assert theory.mm1_mean_response(0.5, 1.0) == pytest.approx(2.0)
    assert theory.mm1_response_quantile(0.5, 1.0, 0.99) == pytest.approx(2 * math.log(100))


def test_erlang_c_reduces_to_rho_for_one_server() -> None:
    assert theory.erlang_c(1, 0.7) == pytest.approx(0.7)


def test_erlang_c_textbook_value() -> None:
    # c = 2, a = 1: C = (1/2 / (1 - 1/2)) / (1 + 1 + 1) = 1/3
    assert theory.erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_pk_reduces_to_mm1_for_exponential() -> None:
    lam = 0.8
    assert theory.pk_mean_response(lam, 1.0, 1.0) == pytest.approx(
        theory.mm1_mean_response(lam, 1.0)
    )
    # M/D/1 waits half as long as M/M/1
    assert theory.pk_mean_wait(lam, 1.0, 0.0) == pytest.approx(
        theory.pk_mean_wait(lam, 1.0, 1.0) / 2
    )


def test_unstable_queue_is_refused() -> None:
    with pytest.raises(ValueError, match="unstable"):
        theory.mm1_mean_response(1.0, 1.0)
