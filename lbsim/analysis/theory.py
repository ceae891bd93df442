"""Closed-form results of queueing theory, for validation and teaching.

Notation: arrival rate λ (per second), service rate μ = 1 / mean service time,
c identical servers (workers), offered load a = λ/μ, utilisation ρ = a/c.
Response time = wait in queue + service. All results are for the steady state
of a FCFS queue with Poisson arrivals and need ρ < 1.
"""

from __future__ import annotations

import math


def _check(rho: float) -> None:
    if not 0 <= rho < 1:
        raise ValueError(f"unstable queue: utilisation {rho:.3f} must be below 1")


def mm1_mean_response(lam: float, mu: float) -> float:
    """M/M/1 mean response time 1 / (μ − λ)."""
    _check(lam / mu)
    return 1 / (mu - lam)


def mm1_response_quantile(lam: float, mu: float, q: float) -> float:
    """M/M/1 response time is exponential with rate μ − λ: its q-quantile."""
    _check(lam / mu)
    return -math.log(1 - q) / (mu - lam)


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival must wait in M/M/c with offered load ``a`` (Erlang C)."""
    _check(a / c)
    term, total = 1.0, 1.0  # a^k / k!, summed for k < c
    for k in range(1, c):
        term *= a / k
        total += term
    last = term * a / c / (1 - a / c)  # a^c / c! / (1 − ρ)
    return last / (total + last)


def mmc_mean_wait(lam: float, mu: float, c: int) -> float:
    """M/M/c mean wait in queue: C(c, a) / (cμ − λ)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_mean_response(lam: float, mu: float, c: int) -> float:
    """M/M/c mean response time: mean wait + 1/μ."""
    return mmc_mean_wait(lam, mu, c) + 1 / mu


def mmc_wait_quantile(lam: float, mu: float, c: int, q: float) -> float:
    """q-quantile of the M/M/c wait: P(W > t) = C · exp(−(cμ − λ) t)."""
    waiting = erlang_c(c, lam / mu)
    if waiting <= 1 - q:
        return 0.0
    return math.log(waiting / (1 - q)) / (c * mu - lam)


def pk_mean_wait(lam: float, mean: float, variance: float) -> float:
    """M/G/1 mean wait (Pollaczek–Khinchine): λ·E[S²] / (2(1 − ρ))."""
    rho = lam * mean
    _check(rho)
    return lam * (variance + mean**2) / (2 * (1 - rho))


def pk_mean_response(lam: float, mean: float, variance: float) -> float:
    """M/G/1 mean response time: P-K mean wait + mean service."""
    return pk_mean_wait(lam, mean, variance) + mean
