"""What a command will simulate, estimated from the validated scenario
before anything runs: requests, health probes, time-series rows, runs and
peak memory. :func:`check_work` refuses what is out of reach (an hour or
more of simulation, more memory than half the machine) with the figure, so
a user sees "about 3.6e+10 requests" at once instead of an hour of silence
or a MemoryError; ``--force`` skips the check."""

from __future__ import annotations

import bisect
import itertools
import os
from dataclasses import dataclass

from lbsim.scenario import Problem, Scenario, ScenarioError


def mean_rate(scenario: Scenario) -> float:
    """λ: the arrival rate, averaged over ``duration`` for a profile (exactly:
    the rate is linear between the profile's corners and held outside them,
    as :func:`lbsim.engine.workload.rate_at` interpolates it)."""
    arrivals = scenario.clients.arrivals
    if arrivals.rate is not None:
        return arrivals.rate
    assert arrivals.profile is not None
    at = [p.at for p in arrivals.profile]
    rate = [p.rate for p in arrivals.profile]

    def rate_at(t: float) -> float:
        i = bisect.bisect_right(at, t)
        if i == 0 or i == len(at):
            return rate[min(i, len(at) - 1)]
        return rate[i - 1] + (rate[i] - rate[i - 1]) * (t - at[i - 1]) / (at[i] - at[i - 1])

    end = scenario.duration
    times = sorted({0.0, end, *(t for t in at if 0 < t < end)})
    area = sum((b - a) * (rate_at(a) + rate_at(b)) / 2 for a, b in itertools.pairwise(times))
    return area / end


# What a run costs, measured on the bundled scenarios: simulated requests per
# second of wall time (one core), bytes per drawn arrival (the workload
# arrays), per kept request row and per time-series row.
REQUESTS_PER_SECOND = 50_000
WORKLOAD_BYTES = 64
RECORD_BYTES = 250
SAMPLE_BYTES = 120
KEPT = {"all": 1.0, "sample": 0.01, "none": 0.0}
MAX_PLANNED_RUNS = 1_000_000


@dataclass(frozen=True)
class Work:
    """What a command will simulate, estimated before it starts."""

    runs: int
    requests: float  # arrivals over every run
    probes: float  # health-check probes and outlier sweeps over every run
    samples: float  # time-series rows over every run
    memory: float  # bytes held at the peak


def _run_cost(scenario: Scenario) -> tuple[float, float, float, float]:
    """Requests, probes, time-series rows and bytes of one run."""
    horizon = scenario.duration + scenario.drain_time
    requests = mean_rate(scenario) * scenario.duration
    drawn = scenario.clients.arrivals.peak_rate * scenario.duration  # thinning draws the peak
    servers = sum(p.hosts for p in scenario.servers)
    instances = scenario.instance_count
    check = scenario.balancer.health_check
    probes = 0.0 if check is None else instances * servers * horizon / check.period
    interval = getattr(scenario.balancer.passive, "interval", None)  # Envoy's sweeps
    probes += 0.0 if interval is None else instances * horizon / interval
    samples = horizon / scenario.sampling * (servers + instances)
    kept = requests * KEPT[scenario.records] * RECORD_BYTES
    return requests, probes, samples, drawn * WORKLOAD_BYTES + kept + samples * SAMPLE_BYTES


def estimate(scenarios: list[Scenario], replications: int = 1, at_once: int = 0) -> Work:
    """The work of running every scenario ``replications`` times; the peak
    memory holds ``at_once`` runs together (0: every run, as ``lbsim run``
    keeps all variants' results)."""
    costs = [_run_cost(s) for s in scenarios]
    requests, probes, samples = (sum(c[i] for c in costs) * replications for i in range(3))
    together = len(scenarios) if at_once == 0 else min(at_once, len(scenarios) * replications)
    peak = sum(sorted((c[3] for c in costs), reverse=True)[:together])
    return Work(len(scenarios) * replications, requests, probes, samples, peak)


def _memory_limit() -> float:
    """Half the machine's memory (8 GB when it cannot be told)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2
    except (AttributeError, ValueError, OSError):
        return 8e9


def refusals(work: Work) -> list[str]:
    """What in ``work`` is out of reach, each with its figure and the limit."""
    hours = work.requests / REQUESTS_PER_SECOND / 3600
    memory = _memory_limit()
    limits = [
        (work.runs, 100_000, f"{work.runs:,} runs", "100,000 runs"),
        (
            work.requests,
            1e8,
            f"about {work.requests:.3g} requests (≈ {hours:.3g} h of simulation at "
            f"{REQUESTS_PER_SECOND:,} requests/s)",
            "1e+08 requests",
        ),
        (work.probes, 1e8, f"about {work.probes:.3g} health probes and sweeps", "1e+08 probes"),
        (work.samples, 5e7, f"about {work.samples:.3g} time-series rows", "5e+07 rows"),
        (
            work.memory,
            memory,
            f"about {work.memory / 1e9:.3g} GB of memory",
            f"{memory / 1e9:.3g} GB (half of this machine's)",
        ),
    ]
    return [
        f"{text}: more than the limit of {shown}"
        for value, limit, text, shown in limits
        if not value <= limit  # NaN is refused too
    ]


def check_work(work: Work, force: bool, where: str) -> None:
    """Raise :class:`ScenarioError` if ``work`` is out of reach, unless ``force``."""
    if force:
        return
    problems = [
        Problem(where, None, None, "", f"{text}; lower it, or pass --force to run anyway")
        for text in refusals(work)
    ]
    if problems:
        raise ScenarioError(problems)
