"""Open-loop workloads drawn in windows, and runs held window by window
(``records: none``): the same requests, the same summary, memory given back."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

import lbsim
import lbsim.runner.keep as keep
from lbsim.engine import workload
from lbsim.engine.arena import CAN_RELEASE, Arena
from lbsim.engine.windows import WindowedRun, windowed
from lbsim.engine.workload import Windows, draw_workload
from lbsim.scenario import load
from tests.conftest import ROOT

EXP = {"dist": "exponential", "mean": 1.0}


def _scenario(**fields: Any) -> dict[str, Any]:
    """W1 overloaded by a third for a spell, with timeouts, retries and a
    crash and a hang: queues long enough to hold abandoned attempts across
    windows, retries pending across window ends."""
    data = {
        "name": "windows",
        "seed": 11,
        "duration": 4000,
        "warmup": 200,
        "records": "none",
        "clients": {
            "arrivals": {
                "process": "poisson",
                "profile": [
                    {"at": 0, "rate": 7.2},
                    {"at": 1500, "rate": 7.2},
                    {"at": 1600, "rate": 10.5},
                    {"at": 2000, "rate": 10.5},
                    {"at": 2100, "rate": 7.2},
                ],
            },
            "service": {"dist": "exponential", "mean": 1.0},
            "timeout": "12s",
            "retries": {"max": 2, "retry_on": ["rejected", "conn_error"]},
        },
        "balancer": {"algorithm": "least_connections"},
        "servers": [{"name": "web", "count": 8, "workers": 1, "queue_limit": 30}],
        "events": [
            {"at": "1000s", "target": "web-1", "action": "crash", "for": "60s"},
            {"at": "2500s", "target": "web-2", "action": "hang", "for": "30s"},
        ],
        **fields,
    }
    if data["duration"] < 3000:
        del data["events"]
    return data


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> int:
    """Windows of at most 2,048 expected requests (a run of about 30k: 15 or more)."""
    monkeypatch.setattr(workload, "WINDOW", 2048)
    return 2048


def test_deterministic_windows_are_the_whole_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # The k-th arrival of a deterministic process is where the integrated
    # rate reaches k; each window takes the k from ceil(Λ(lo)), so the
    # windows must be the whole run's arrivals exactly: none lost, none twice.
    for arrivals in (
        {"process": "deterministic", "rate": 7.3},
        {
            "process": "deterministic",
            "profile": [{"at": 0, "rate": 3}, {"at": 900, "rate": 19}, {"at": 1700, "rate": 2}],
        },
    ):
        config = load(data=_scenario(clients={"arrivals": arrivals, "service": EXP})).base
        whole = draw_workload(config).arrival
        monkeypatch.setattr(workload, "WINDOW", 1000)
        parts = Windows(config)
        assert len(parts) > 10
        np.testing.assert_array_equal(draw_workload(config).arrival, whole)
        monkeypatch.undo()


def test_poisson_windows_are_a_poisson_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workload, "WINDOW", 1000)
    config = load(
        data=_scenario(duration=20_000, clients={"arrivals": {"rate": 10.0}, "service": EXP})
    ).base
    parts = Windows(config)
    counts = np.array([len(parts.draw(k).arrival) for k in range(len(parts))])
    assert len(counts) == 200
    # 200 windows of 1,000 expected each: the counts are Poisson(1000)
    # (sd 31.6) if each window draws its own count. Their total is
    # Poisson(200,000): within 4.5 sd (1,012; P = 7e-6), which catches a
    # rate off by 0.5 %. The dispersion statistic sum((n - 1000)^2) / 1000
    # is chi-square with 200 degrees of freedom: inside its 0.05 %-99.95 %
    # range (~137 to ~280) unless the counts are too even or too uneven.
    assert abs(counts.sum() - 200_000) < 4.5 * math.sqrt(200_000)
    dispersion = float(((counts - 1000) ** 2).sum() / 1000)
    low, high = stats.chi2.ppf([0.0005, 0.9995], 200)
    assert low < dispersion < high
    # Gaps, across window edges too, are Exp(1/10): Kolmogorov-Smirnov at
    # the 0.1 % level (critical distance 1.95 / sqrt(200k) = 0.0044; a gap
    # missing or doubled at each edge shifts nothing detectable, so the
    # edges are checked directly below).
    times = draw_workload(config).arrival
    assert stats.kstest(np.diff(times), "expon", args=(0, 0.1)).pvalue > 1e-3
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] < 20_000
    # every window's arrivals lie in it
    edges = parts.edges
    again = Windows(config)
    for k in range(len(again)):
        part = again.draw(k).arrival
        assert np.all((part >= edges[k]) & (part < edges[k + 1]))


def test_which_runs_are_windowed(small_windows: int) -> None:
    def of(**fields: Any) -> bool:
        return windowed(load(data=_scenario(**fields)).base)

    assert of() and of(records="all")  # (whether rows are kept is the run's mode)
    assert not of(duration=150, warmup=10)  # one window: nothing to gain
    sessions = {"arrivals": {"rate": 0.5}, "sessions": {"requests": 10, "think": "2s"}}
    assert not of(clients={**_scenario()["clients"], **sessions})
    assert not of(balancer={"algorithm": "round_robin", "layer": 7, "cpu": {"workers": 2}})
    # requests_per_target counts past requests from their columns as it goes
    data = yaml.safe_load((ROOT / "scenarios" / "autoscaling.yaml").read_text())
    variants = load(data={**data, "records": "none"}, base_dir=ROOT / "scenarios").variants
    metrics = {v.scenario.servers[0].autoscale.metric: windowed(v.scenario) for v in variants}  # type: ignore[union-attr]
    assert metrics == {"cpu": True, "requests_per_target": False}


def _without_windows(data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> lbsim.Result:
    with monkeypatch.context() as patch:
        patch.setattr(keep, "windowed", lambda scenario: False)
        return lbsim.run(data)


def test_a_windowed_run_is_the_run_held_whole(
    small_windows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _scenario()
    assert windowed(load(data=data).base)
    folds: list[tuple[int, int]] = []  # (requests drawn, last folded) at each fold
    fold = WindowedRun._fold_window

    def logged(run: WindowedRun, rec: Any) -> None:
        folds.append((run.drawn, run._bounds[run._folded + 1]))
        fold(run, rec)

    with monkeypatch.context() as patch:
        patch.setattr(WindowedRun, "_fold_window", logged)
        got = lbsim.run(data)
    whole = _without_windows(data, monkeypatch)
    # Same requests, same events: every count is equal, every histogram
    # bucket too (so every percentile); means and sums add the same values
    # in other groupings, equal to float rounding.
    assert list(got.summary.columns) == list(whole.summary.columns)
    for name in got.summary.columns:
        a, b = got.summary[name].iloc[0], whole.summary[name].iloc[0]
        if isinstance(a, float) and not (math.isnan(a) and math.isnan(b)):
            assert a == pytest.approx(b, rel=1e-12, abs=1e-15), name
        elif not isinstance(a, float):
            assert a == b, name
    assert got.summary["requests"].iloc[0] > 25_000
    assert got.summary["timeout_rate"].iloc[0] > 0
    assert got.summary["retry_amplification"].iloc[0] > 1
    assert got.timeseries.equals(whole.timeseries)
    assert got.events.equals(whole.events)
    assert len(got.requests) == 0
    # Folded as the run went: at most three windows drawn and not yet folded
    # at any fold, out of 15 or more.
    windows_drawn = len(folds)
    assert windows_drawn >= 15
    assert max(drawn - folded for drawn, folded in folds[:-3]) <= 3 * small_windows * 1.2


def test_the_arena_gives_whole_pages_back() -> None:
    # Given back (Linux, macOS): a whole page reads as zeros from then on.
    # Without madvise nothing is given back: it reads as it was.
    gone = 0.0 if CAN_RELEASE else np.nan
    arena = Arena(10_000)
    values = arena.full(10_000, np.nan, np.float64)
    flags = arena.full(10_000, 0, np.int8)
    arena.prepare(6_000)
    assert np.isnan(values[:6_000]).all() and (values[6_000:] == 0).all()
    flags[:6_000] = 1
    arena.release(1_000)  # 8 kB of floats: the first page only (512 floats)
    np.testing.assert_array_equal(values[:512], gone)
    assert np.isnan(values[512:6_000]).all()
    assert (flags[:6_000] == 1).all()  # 1 kB of flags: not a whole page
    arena.release(6_000)
    np.testing.assert_array_equal(values[:5_632], gone)
    assert np.isnan(values[5_632:6_000]).all()
    assert (flags[:4_096] == (0 if CAN_RELEASE else 1)).all() and (flags[4_096:6_000] == 1).all()


def test_a_windowed_run_counts_its_requests_first(small_windows: int) -> None:
    config = load(data=_scenario()).base
    run = WindowedRun(config, lambda *args: None)
    assert run.count == len(draw_workload(config)) == run.arena.capacity
    assert run.draw_until(math.inf) == run.count


def test_a_sweep_task_keeps_no_rows_and_runs_windowed(
    small_windows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sweeps keep no rows (records: none) whatever the scenario says.
    variant = load(data=_scenario(records="all")).variants[0]
    drawn: list[int] = []
    fold = WindowedRun._fold_window

    def counted(run: WindowedRun, rec: Any) -> None:
        drawn.append(run.drawn)
        fold(run, rec)

    monkeypatch.setattr(WindowedRun, "_fold_window", counted)
    kept = keep.simulate(variant, "none", lambda: draw_workload(variant.scenario))
    assert len(drawn) >= 15 and len(kept.rows) == 0
    assert kept.row["requests"] > 25_000


@pytest.mark.parametrize("name", ["lb_failover.yaml", "autoscaling.yaml"])
def test_bundled_scenarios_windowed_are_held_whole(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A balancer pair failing over (in-flight requests found by scanning
    # the columns) and autoscaling (per-server counts in its metrics), in
    # windows of 4,096: the summary of the run held whole.
    monkeypatch.setattr(workload, "WINDOW", 4096)
    data = yaml.safe_load((ROOT / "scenarios" / name).read_text())
    data = {**data, "records": "none"}
    data.pop("compare", None)
    assert windowed(load(data=data, base_dir=ROOT / "scenarios").base)
    got, whole = lbsim.run(data), _without_windows(data, monkeypatch)
    for column in got.summary.columns:
        a, b = got.summary[column].iloc[0], whole.summary[column].iloc[0]
        if isinstance(a, float):
            assert a == pytest.approx(b, rel=1e-12, abs=1e-15, nan_ok=True), column
        else:
            assert a == b, column
