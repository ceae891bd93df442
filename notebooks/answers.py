"""Answer checks of the lesson exercises: ``check_NN_exK(value)``.

Each check raises :class:`AssertionError` with a hint when the answer is
wrong and returns quietly (printing "correct") when it is right. The
expected values are derived here from the published formula, not from a
simulation, so a notebook cannot pass by checking a result against itself.
Tolerances are stated per check.
"""

from __future__ import annotations

import math

from lbsim.analysis import theory


def _close(value: float, expected: float, rel: float, hint: str) -> None:
    assert isinstance(value, int | float) and math.isfinite(value), (
        f"expected a number, got {value!r}"
    )
    assert math.isclose(value, expected, rel_tol=rel), (
        f"{value:.4g} is not within {rel:.0%} of the answer. Hint: {hint}"
    )
    print("correct")


def supermarket(lam: float, d: int, terms: int = 200) -> float:
    """Mitzenmacher's mean time in system of the supermarket model (n → ∞),
    in mean service times: T_d(λ) = Σ_{i≥1} λ^((d^i − d)/(d − 1)); for d = 1
    the sum is Σ λ^(i−1) = 1/(1 − λ), the M/M/1 value."""
    if d == 1:
        return 1 / (1 - lam)
    total = 0.0
    for i in range(1, terms):
        exponent = (d**i - d) / (d - 1)
        if exponent > 1e4:  # λ^exponent has vanished
            break
        total += lam**exponent
    return total


# --- 01 Why load balancing -------------------------------------------------


def check_01_ex1(mean_response: float) -> None:
    """M/M/1 at λ = 0.9/s, μ = 1/s: mean response time 1/(μ − λ) = 10 s (1%)."""
    _close(mean_response, theory.mm1_mean_response(0.9, 1.0), 0.01, "1 / (μ − λ), in seconds")


def check_01_ex2(ratio: float) -> None:
    """Mean response at ρ = 0.9 over that at ρ = 0.5 (μ = 1): 10 / 2 = 5 (1%)."""
    expected = theory.mm1_mean_response(0.9, 1.0) / theory.mm1_mean_response(0.5, 1.0)
    _close(ratio, expected, 0.01, "(1 − 0.5) / (1 − 0.9): the hockey stick is 1/(1 − ρ)")


def check_01_ex3(probability_of_waiting: float) -> None:
    """Erlang C for five lanes at offered load a = 4 (ρ = 0.8): about 0.554 (1%)."""
    _close(
        probability_of_waiting,
        theory.erlang_c(5, 4.0),
        0.01,
        "Erlang C with c = 5 and a = λ/μ = 4; not ρ itself (0.8), which M/M/1 would give",
    )


# --- 02 The algorithms -----------------------------------------------------


def check_02_ex1(t2: float) -> None:
    """The supermarket series for d = 2 at λ = 0.9: ≈ 2.61 mean service times (0.5%)."""
    _close(
        t2,
        supermarket(0.9, 2),
        0.005,
        "sum λ^(2^i − 2) for i = 1, 2, ... (a dozen terms are plenty)",
    )


def check_02_ex2(simulated_t3: float) -> None:
    """A simulated mean response with d = 3 on 100+ servers at λ = 0.9, in
    mean service times: within 5% of T_3(0.9) ≈ 2.03. The finite cluster
    (n = 100 is ~1% above the n → ∞ limit) and the run's sampling error (about
    1.5% over 2000 s, the spread of replications) fit well inside 5%."""
    _close(
        simulated_t3,
        supermarket(0.9, 3),
        0.05,
        "run power_of_two with choices: 3 and divide latency_mean by the mean service time",
    )


def check_02_ex3(algorithm: str) -> None:
    """In scenarios/algorithms.yaml, the algorithm with the worst mean latency: IP
    hash, blind to load and skewed by NAT gateways (every client behind one
    lands on one server)."""
    assert algorithm == "ip_hash", (
        f"{algorithm!r} is not the slowest. Hint: which algorithm ignores load entirely and "
        "sends every client behind a NAT gateway to one server? Look at latency_mean."
    )
    print("correct")


# --- 03 Health checks ------------------------------------------------------


def _window(interval: float, timeout: float, fall: int) -> tuple[float, float]:
    """Detection delay of a crashed (silent) server: the next probe comes within
    one interval, each failing probe takes ``timeout`` and the next one goes out
    ``interval`` after it: [fall·timeout + (fall−1)·interval, + interval)."""
    low = fall * timeout + (fall - 1) * interval
    return low, low + interval


def _check_window(answer: tuple[float, float], expected: tuple[float, float], hint: str) -> None:
    low, high = answer
    assert math.isclose(low, expected[0], abs_tol=1e-6) and math.isclose(
        high, expected[1], abs_tol=1e-6
    ), f"({low:g}, {high:g}) s is not the window. Hint: {hint}"
    print("correct")


def check_03_ex1(window: tuple[float, float]) -> None:
    """HAProxy defaults (inter 2 s, timeout 2 s, fall 3): detection within [10, 12) s."""
    _check_window(
        window,
        _window(2.0, 2.0, 3),
        "3 failing probes each wait out the 2 s timeout, 2 s apart, after a first wait < 2 s",
    )


def check_03_ex2(window: tuple[float, float]) -> None:
    """ALB defaults (interval 30 s, timeout 5 s, 2 failures): detection within [40, 70) s."""
    _check_window(
        window,
        _window(30.0, 5.0, 2),
        "2 failing probes of 5 s each, 30 s apart, after a first wait < 30 s",
    )


def check_03_ex3(probes_per_second: float) -> None:
    """Probes per second from one balancer checking 6 servers every 500 ms: 12/s (1%)."""
    _close(probes_per_second, 6 / 0.5, 0.01, "every server gets one probe per interval")


# --- 04 Failover and retries -----------------------------------------------


def check_04_ex1(failed_requests: float) -> None:
    """Requests lost while a standby balancer takes over for 3 s at 200 req/s:
    about λ·T = 600 (within 15%: requests in flight on the dead instance add a few)."""
    _close(failed_requests, 200 * 3.0, 0.15, "arrival rate × takeover time")


def check_04_ex2(amplification: float) -> None:
    """The worst-case load amplification with ``max: 3`` retries: 4 attempts per request."""
    _close(amplification, 4.0, 1e-9, "the first attempt plus every retry")


def check_04_ex3(bound: float) -> None:
    """A 20% retry budget bounds retries in flight to 0.2 × active requests, so
    the amplification of the load in flight is at most 1.2."""
    _close(bound, 1.2, 1e-9, "1 + percent / 100")


# --- 05 Sessions -----------------------------------------------------------


def check_05_ex1(rate: float) -> None:
    """Interactive response-time law: X = N / (R + Z) = 160 / 2.025 ≈ 79.0 req/s (1%)."""
    _close(rate, 160 / (2.0 + 0.025), 0.01, "users / (response time + think time)")


def check_05_ex2(lost: float) -> None:
    """Sessions lost with cookie stickiness when one of 4 servers dies: its
    share, 160 / 4 = 40 (10%: every one of them sends again during the outage)."""
    _close(lost, 160 / 4, 0.10, "the dead server's share of the sessions")


def check_05_ex3(share: float) -> None:
    """ip_hash, 4 servers, 40% behind one address: 0.4 + 0.6 / 4 = 0.55 (1%)."""
    _close(share, 0.4 + 0.6 / 4, 0.01, "the NAT users all, plus a fair quarter of the others")


def check_05_ex4(mean_wait: float) -> None:
    """Full jitter before retry 3, base 5 ms: uniform below 5 ms × 2^3 = 40 ms,
    mean 20 ms = 0.020 s (1%)."""
    _close(mean_wait, 0.005 * 2**3 / 2, 0.01, "half of base × 2^N (in seconds)")


# --- 07 Beyond round robin -------------------------------------------------


def check_07_ex1(slow_fraction: float) -> None:
    """Fan-out to 100 leaves each slow 1 %: 1 − 0.99^100 ≈ 0.634 slow (1%)."""
    _close(
        slow_fraction,
        1 - 0.99**100,
        0.01,
        "a request is fast only if every one of the 100 leaves is: 0.99 to the 100th",
    )


def check_07_ex2(attempts: float) -> None:
    """Attempts per request with N = 2 retries at failure rate 0.5:
    (1 − 0.5³) / (1 − 0.5) = 1.75 (1%)."""
    _close(attempts, (1 - 0.5**3) / (1 - 0.5), 0.01, "1 + x + x² for x = 0.5")


def check_07_ex3(slow_fraction: float) -> None:
    """Needing 99 of 100 leaves: slow iff two or more straggle,
    1 − 0.99^100 − 100 · 0.01 · 0.99^99 ≈ 0.264 (1%)."""
    _close(
        slow_fraction,
        1 - 0.99**100 - 100 * 0.01 * 0.99**99,
        0.01,
        "take away P(no leaf slow) and P(exactly one slow), a binomial term",
    )


# --- 08 Global balancing ---------------------------------------------------


def check_08_ex1(seconds: float) -> None:
    """Worst case until TTL-honouring clients leave a failed region: every
    checker has failed ``threshold`` times after threshold × interval = 90 s,
    then a resolver's cached answer lasts one TTL more: 150 s."""
    _close(seconds, 3 * 30 + 60, 1e-9, "failure threshold × interval, plus the TTL")


def check_08_ex2(queries_per_s: float) -> None:
    """A resolver asks the authority at most once per TTL: 40 / 20 s = 2 per second."""
    _close(queries_per_s, 40 / 20, 1e-9, "resolvers / TTL")


def check_08_ex3(share: float) -> None:
    """Route 53 weighted: a zero-weight record is answered only when every
    non-zero one is unhealthy, so B (weight 1) gets every answer."""
    _close(share, 1.0, 1e-9, "a weight-0 record is a last resort, not an equal share")


# --- 09 Autoscaling vs load balancing ------------------------------------


def check_09_ex1(seconds: float) -> None:
    """In service at t0 + evaluation_periods · period + boot_time = 600 + 5·60 + 90 = 990 s."""
    _close(seconds, 600 + 5 * 60 + 90, 1e-6, "the step, then 5 periods of datapoints, then a boot")


def check_09_ex2(instances: float) -> None:
    """ceil(6 · 100 / 40) = 15: a saturated fleet asks for at most 100/target times itself."""
    _close(instances, math.ceil(6 * 100 / 40), 1e-6, "ceil(instances × metric / target)")


def check_09_ex3(requests_per_period: float) -> None:
    """50% of one 200 ms worker is 2.5 requests/s: 150 per 60 s period (1%)."""
    _close(requests_per_period, 0.5 / 0.2 * 60, 0.01, "busy share / service time, per period")


# --- 10 Reading results ----------------------------------------------------


def check_10_ex1(p99: float) -> None:
    """M/M/1 p99 response at λ = 0.8/s, μ = 1/s: ln(100)/(μ − λ) ≈ 23.0 s (1%)."""
    _close(
        p99,
        theory.mm1_response_quantile(0.8, 1.0, 0.99),
        0.01,
        "the response time is exponential with rate μ − λ",
    )


def check_10_ex2(factor: float) -> None:
    """Replications needed to halve a t-interval's width: 4 times as many (≈, 5%)."""
    _close(factor, 4.0, 0.05, "the half-width shrinks like 1/√R")


def check_10_ex3(interval: tuple[float, float]) -> None:
    """A confidence interval of the p99 at λ = 0.8, μ = 1 should contain the theory (23.0 s)."""
    low, high = interval
    truth = theory.mm1_response_quantile(0.8, 1.0, 0.99)
    assert low < high, f"({low:g}, {high:g}) is not an interval: low must be below high"
    assert low <= truth <= high, (
        f"({low:.3g}, {high:.3g}) s misses the theory {truth:.3g} s. Hint: use ci_low and "
        "ci_high of latency_p99 from the sweep summary, with the warm-up left out"
    )
    print("correct")


# --- 06 Layer 4, layer 7 and TLS -------------------------------------------


def check_06_ex1(rate: float) -> None:
    """Saturation rate of c cores at s seconds per request: c / s = 4 / 50 µs (1%)."""
    _close(rate, 4 / 50e-6, 0.01, "cores / (connection + parse cost), per second")


def check_06_ex2(cores: float) -> None:
    """Handshake CPU: rate × ((1 − r)·full + r·resumed) = 3000 × 0.23 ms (1%)."""
    expected = 3000 * (0.4 * 0.5e-3 + 0.6 * 0.05e-3)
    _close(cores, expected, 0.01, "rate × ((1 − resumption)·full + resumption·resumed)")


def check_06_ex3(ratio: float) -> None:
    """L4/L7 per-core ratio: (connection + parse) / connection = 35 / 5 (1%)."""
    _close(ratio, 35 / 5, 0.01, "L7 pays connection + parse per request, L4 the connection only")
