"""Report: plots, HTML and atomic writes, on a small synthetic result.

The result is built here from a seeded generator (no engine needed): three
variants facing one Poisson workload with a traffic spike, two servers, a
crash of ``web-1`` seen by every variant and a health transition seen only by
``round_robin``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

import lbsim.io
import lbsim.report as report
from lbsim.report import figures, has_data, render_html, write_report
from lbsim.report.html import describe_scenario
from lbsim.report.plots import PERCENTILES, format_seconds, health_over_time, variant_colors
from lbsim.report.wording import words
from lbsim.scenario.units import format_rate

VARIANTS = ["round_robin", "least_connections", "power_of_two"]
SERVERS = ["web-0", "web-1"]
STATUSES = ["ok", "rejected", "no_backend", "conn_error", "server_error", "timeout", "incomplete"]
TIME_PLOTS = ["latency_over_time", "queue_depth", "errors_over_time"]
# the fake run has no autoscaling, so no capacity plot (test_capacity_plot_* has one)
DRAWN = [name for name in report.PLOTS if name != "capacity_over_time"]


@dataclass
class FakeResult:
    summary: pd.DataFrame
    requests: pd.DataFrame
    timeseries: pd.DataFrame
    events: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def make_result(
    variants: list[str] = VARIANTS, errors: bool = True, events: bool = True
) -> FakeResult:
    rng = np.random.default_rng(20240601)
    warmup, duration = 60.0, 600.0
    # One workload for every variant: 4/s, with a spike to 12/s between 300s and 360s.
    base = np.cumsum(rng.exponential(1 / 4, size=4000)) + warmup
    spike = 300 + np.cumsum(rng.exponential(1 / 8, size=600))
    arrival = np.sort(np.concatenate([base[base < duration], spike[spike < 360]]))
    demand = rng.exponential(0.05, size=arrival.size)
    frames = []
    for i, name in enumerate(variants):
        wait = rng.exponential(0.01 * (i + 1), size=arrival.size)
        wait[(arrival > 300) & (arrival < 380)] *= 20  # the crash hurts everyone
        latency = demand + wait
        status = np.full(arrival.size, "ok", dtype=object)
        if errors and i == 0:
            status[(arrival > 300) & (arrival < 330) & (rng.random(arrival.size) < 0.3)] = "timeout"
        if errors and i == 1:
            status[(arrival > 300) & (arrival < 310)] = "conn_error"
        server = np.where(rng.random(arrival.size) < 0.5 + 0.1 * i, "web-0", "web-1").astype(object)
        frames.append(
            pd.DataFrame(
                {
                    "variant": name,
                    "id": np.arange(arrival.size, dtype=np.int64),
                    "balancer": np.zeros(arrival.size, dtype=np.int16),
                    "client": rng.integers(0, 50, arrival.size).astype(np.int32),
                    "server": server,
                    "arrival": arrival,
                    "start": arrival + wait,
                    "end": arrival + latency,
                    "latency": np.where(status == "ok", latency, np.nan),
                    "wait": wait,
                    "demand": demand,
                    "status": status,
                    "retries": np.zeros(arrival.size, dtype=np.int8),
                }
            )
        )
    requests = pd.concat(frames, ignore_index=True)
    requests["variant"] = pd.Categorical(requests["variant"], categories=variants)
    requests["server"] = pd.Categorical(requests["server"], categories=SERVERS)
    requests["status"] = pd.Categorical(requests["status"], categories=STATUSES)

    times = np.arange(0.0, duration + 5, 5.0)
    ts_rows = []
    for i, name in enumerate(variants):
        for server in SERVERS:
            up = ~((server == "web-1") & (times >= 300) & (times < 360))
            ts_rows.append(
                pd.DataFrame(
                    {
                        "variant": name,
                        "time": times,
                        "server": server,
                        "queue": rng.poisson(0.5 + i, times.size) * up,
                        "in_service": rng.binomial(2, 0.3 + 0.1 * i, times.size) * up,
                        "outstanding": rng.poisson(1.5, times.size),
                        "healthy": up,
                        "up": up,
                    }
                )
            )
    timeseries = pd.concat(ts_rows, ignore_index=True)

    event_rows = []
    if events:
        for name in variants:
            event_rows += [
                (name, 300.0, "crash", "web-1", "process died"),
                (name, 360.0, "recover", "web-1", ""),
            ]
        event_rows.append((variants[0], 320.0, "marked_down", "web-1", "3 failed checks"))
        event_rows.append((variants[0], 362.0, "marked_up", "web-1", ""))  # 2s after recover
    event_frame = pd.DataFrame(event_rows, columns=["variant", "time", "kind", "target", "detail"])

    n = len(variants)
    summary = pd.DataFrame(
        {
            "variant": variants,
            "balancer.algorithm": variants,
            "requests": [arrival.size] * n,
            "ok": [arrival.size - 10 * k for k in range(n)],  # best: variants[0]
            "goodput": [4.0 + k for k in range(n)],  # best: the last
            "rejected_rate": [0.0] * n,  # all equal: nothing highlighted
            "error_rate": [0.02, 0.01, 0.03, 0.04][:n],  # best: variants[1]
            "latency_p50": [0.05, 0.04, 0.06, 0.07][:n],
            "latency_p99": [0.5, 0.3, 0.2, 0.4][:n],  # best: variants[2]
            "latency_p999": [0.9, 0.8, 0.85, 0.95][:n],
            "queue_mean": [1.0, 0.5, 0.7, 0.8][:n],
            "utilization_mean": [0.3, 0.4, 0.5, 0.6][:n],  # no direction: never highlighted
            "load_imbalance": [1.2, 1.05, 1.1, 1.15][:n],
            "retry_amplification": [1.0, 1.1, 1.3, 1.2][:n],
            "mystery_metric": [3.0, 2.0, 1.0, 0.5][:n],  # unknown: shown, not highlighted
        }
    )
    meta = {
        "name": "synthetic",
        "seed": 7,
        "lbsim_version": "0.1.0",
        "wall_time": 1.25,
        "duration": duration,
        "warmup": warmup,
        "sample_interval": 5.0,
        "variants": [{"name": v, "params": {"balancer.algorithm": v}} for v in variants],
        "servers": [
            {"name": s, "pool": "web", "workers": 2, "speed": 1.0, "weight": 1} for s in SERVERS
        ],
        "scenario": {
            "name": "synthetic",
            "seed": 7,
            "duration": duration,
            "warmup": warmup,
            "clients": {
                "count": 50,
                "nat": None,
                "arrivals": {
                    "process": "poisson",
                    "rate": None,
                    "profile": [
                        {"at": 0.0, "rate": 100.0},
                        {"at": 600.0, "rate": 1000.0},
                        {"at": 1200.0, "rate": 100.0},
                    ],
                },
                "service": {"dist": "exponential", "mean": 0.05},
            },
            "servers": [
                {
                    "name": "web",
                    "count": 2,
                    "workers": 2,
                    "queue_limit": None,
                    "speed": 1.0,
                    "weight": 1,
                }
            ],
            "balancer": {"algorithm": {"name": "round_robin"}},
            "compare": {"balancer.algorithm": variants},
        },
    }
    return FakeResult(summary, requests, timeseries, event_frame, meta)


@pytest.fixture(scope="module")
def result() -> FakeResult:
    return make_result()


@pytest.fixture(scope="module")
def figs(result: FakeResult) -> dict[str, Figure]:
    return figures(result)


def variant_lines(fig: Figure, variants: list[str]) -> Counter[tuple[str, str]]:
    """(variant, gid) -> number of lines, over every axes of the figure."""
    counts: Counter[tuple[str, str]] = Counter()
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_label() in variants:
                counts[(str(line.get_label()), str(line.get_gid()))] += 1
    return counts


def event_lines(fig: Figure) -> list[float]:
    main = fig.axes[0]
    return sorted(
        float(np.asarray(ln.get_xdata())[0]) for ln in main.lines if ln.get_gid() == "event"
    )


# -- plots -------------------------------------------------------------------


def test_all_plots_have_titles_and_captions(figs: dict[str, Figure]) -> None:
    assert list(figs) == DRAWN
    for name in report.PLOTS:
        assert report.TITLES[name]
        caption = report.CAPTIONS[name]
        assert caption and "\n" not in caption


def test_latency_cdf_one_log_line_per_variant(figs: dict[str, Figure]) -> None:
    fig = figs["latency_cdf"]
    assert variant_lines(fig, VARIANTS) == Counter({(v, "cdf"): 1 for v in VARIANTS})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.all(np.diff(y) >= 0) and y[0] > 0 and y[-1] < 1


def test_percentiles_over_time_one_line_per_variant_and_percentile(
    figs: dict[str, Figure],
) -> None:
    fig = figs["latency_over_time"]
    expected = Counter({(v, gid): 1 for v in VARIANTS for gid, _, _ in PERCENTILES})
    assert variant_lines(fig, VARIANTS) == expected
    assert fig.axes[0].get_yscale() == "log"
    # p99.9 needs 1000 ok requests per window: this small run has none that big.
    for line in fig.axes[0].get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        if line.get_gid() == "p50":
            assert np.isfinite(y).sum() >= 5
        if line.get_gid() == "p99.9":
            assert not np.isfinite(y).any()


def test_queue_depth_mean_and_max_per_variant(figs: dict[str, Figure], result: FakeResult) -> None:
    fig = figs["queue_depth"]
    expected = Counter({(v, gid): 1 for v in VARIANTS for gid in ("mean", "max")})
    assert variant_lines(fig, VARIANTS) == expected
    line = next(
        ln
        for ln in fig.axes[0].get_lines()
        if ln.get_label() == VARIANTS[1] and ln.get_gid() == "max"
    )
    ts = result.timeseries[result.timeseries["variant"] == VARIANTS[1]]
    np.testing.assert_allclose(line.get_ydata(), ts.groupby("time")["queue"].max().to_numpy())


def test_errors_panel_per_kind_line_per_variant(figs: dict[str, Figure]) -> None:
    fig = figs["errors_over_time"]
    kinds = ("conn_error", "timeout")  # in STATUS_ORDER order
    assert variant_lines(fig, VARIANTS) == Counter({(v, k): 1 for v in VARIANTS for k in kinds})
    assert [ax.get_ylabel() for ax in fig.axes[: len(kinds)]] == list(kinds)
    timeout = next(
        ln
        for ln in fig.axes[1].get_lines()
        if ln.get_label() == VARIANTS[0] and ln.get_gid() == "timeout"
    )
    assert np.nanmax(np.asarray(timeout.get_ydata(), dtype=float)) > 5  # a visible burst, in %


def test_errors_plot_works_without_errors_and_events() -> None:
    quiet = make_result(VARIANTS[:2], errors=False, events=False)
    fig = report.errors_over_time(quiet)
    assert variant_lines(fig, VARIANTS[:2]) == Counter({(v, "none"): 1 for v in VARIANTS[:2]})
    assert event_lines(fig) == []
    for line in fig.axes[0].get_lines():
        assert np.all(np.asarray(line.get_ydata(), dtype=float) == 0)


def test_server_load_one_bar_container_per_variant(
    figs: dict[str, Figure], result: FakeResult
) -> None:
    fig = figs["server_load"]
    for ax, gid in zip(fig.axes, ("requests", "utilization"), strict=True):
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        assert sorted(str(c.get_label()) for c in bars) == sorted(VARIANTS)
        assert all(len(c.patches) == len(SERVERS) for c in bars)
        assert all(p.get_gid() == gid for c in bars for p in c.patches)
    requests = next(c for c in fig.axes[0].containers if c.get_label() == VARIANTS[2])
    counts = result.requests[result.requests["variant"] == VARIANTS[2]]["server"].value_counts()
    assert [p.get_height() for p in requests.patches] == [counts["web-0"], counts["web-1"]]
    util = next(c for c in fig.axes[1].containers if c.get_label() == VARIANTS[0])
    ts = result.timeseries
    measured = (ts["time"] >= 60) & (ts["time"] < 600)  # warm-up to duration: no drain
    after = ts[(ts["variant"] == VARIANTS[0]) & (ts["server"] == "web-0") & measured]
    assert util.patches[0].get_height() == pytest.approx(after["in_service"].mean() / 2 * 100)


def test_variant_colour_is_the_same_in_every_plot(figs: dict[str, Figure]) -> None:
    colors = variant_colors(VARIANTS)
    for fig in figs.values():
        for ax in fig.axes:
            for line in ax.get_lines():
                if line.get_label() in colors:
                    assert line.get_color() == colors[str(line.get_label())]
            for container in ax.containers:
                if isinstance(container, BarContainer):
                    face = container.patches[0].get_facecolor()
                    assert face[:3] == pytest.approx(_rgb(colors[str(container.get_label())]))


def _rgb(hex_color: str) -> tuple[float, ...]:
    return tuple(int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5))


@pytest.mark.parametrize("name", TIME_PLOTS)
def test_time_plots_mark_events_and_show_arrivals(figs: dict[str, Figure], name: str) -> None:
    fig = figs[name]
    assert event_lines(fig) == [300.0, 320.0, 360.0, 362.0]
    labels = [t.get_text().strip() for t in fig.axes[0].texts if t.get_gid() == "event_label"]
    # Grey for every variant's events, the variant's colour (and name) for its own;
    # events too close to label apart share a label.
    assert labels == ["crash web-1", "marked_down web-1 (round_robin)", "recover web-1 +1 more"]
    arrivals = fig.axes[-1]
    assert arrivals.get_ylabel() == "arrivals/s"
    assert any(p.get_gid() == "arrivals" for p in arrivals.patches)
    assert any(ln.get_gid() == "event" for ln in arrivals.lines)
    # The spike (x3 between 300s and 360s) is visible in the arrivals panel.
    step = next(p for p in arrivals.patches if p.get_gid() == "arrivals")
    rates = np.asarray(step.get_data().values, dtype=float)
    assert rates.max() > 2 * np.median(rates)


def test_format_seconds_picks_si_unit() -> None:
    assert [format_seconds(v) for v in (5e-4, 0.001, 0.0123, 0.9996, 2.0, 1000.0)] == [
        "500µs",
        "1ms",
        "12.3ms",
        "1s",
        "2s",
        "1000s",
    ]


def test_plots_survive_empty_frames() -> None:
    empty = make_result(VARIANTS[:2], errors=False, events=False)
    empty = replace(
        empty,
        requests=empty.requests.iloc[0:0],
        timeseries=empty.timeseries.iloc[0:0],
    )
    for fig in figures(empty).values():
        fig.canvas.draw()  # renders without error
    assert variant_lines(report.latency_cdf(empty), VARIANTS[:2]) == Counter(
        {(v, "cdf"): 1 for v in VARIANTS[:2]}
    )


# -- HTML and files ----------------------------------------------------------


class _Cells(HTMLParser):
    """Collects (row variant, data-col, classes) of summary cells."""

    def __init__(self) -> None:
        super().__init__()
        self.variant: str | None = None
        self.cells: list[tuple[str, str, set[str]]] = []
        self.img_srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr":
            self.variant = a.get("data-variant")
        elif tag == "td" and self.variant and a.get("data-col"):
            self.cells.append(
                (self.variant, str(a["data-col"]), set((a.get("class") or "").split()))
            )
        elif tag == "img":
            self.img_srcs.append(a.get("src") or "")


def test_write_report_writes_self_contained_html_atomically(
    tmp_path: Path, result: FakeResult
) -> None:
    out = tmp_path / "reports" / "synthetic"
    paths = write_report(result, out)
    expected = {f"{name}.png" for name in DRAWN} | {"report.html"}
    assert {p.name for p in paths} == expected
    assert {p.name for p in out.iterdir()} == expected  # no temporary files left
    assert paths[-1] == out / "report.html"
    for path in paths[:-1]:
        assert path.read_bytes().startswith(b"\x89PNG")
    html = (out / "report.html").read_text(encoding="utf-8")
    for variant in VARIANTS:
        assert variant in html
    parser = _Cells()
    parser.feed(html)
    assert len(parser.img_srcs) == len(DRAWN)
    assert all(src.startswith("data:image/png;base64,") for src in parser.img_srcs)
    assert "http://" not in html and "https://" not in html and 'src="/' not in html
    for caption in (report.CAPTIONS[name] for name in DRAWN if name in report.CAPTIONS):
        assert caption in html  # captions contain no characters html.escape changes


def test_write_report_svg_and_bad_format(tmp_path: Path, result: FakeResult) -> None:
    quiet = make_result(VARIANTS[:2], errors=False, events=False)
    paths = write_report(quiet, tmp_path, formats=("svg",))
    # no errors at all: no (empty) error plot
    drawn = [name for name in DRAWN if name != "errors_over_time"]
    assert [p.name for p in paths] == [f"{name}.svg" for name in drawn] + ["report.html"]
    assert b"<svg" in (tmp_path / "latency_cdf.svg").read_bytes()
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(drawn)
    with pytest.raises(ValueError, match="format"):
        write_report(quiet, tmp_path, formats=("gif",))


def test_atomic_write_leaves_old_file_and_no_temp_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        lbsim.io.write_atomic(target, b"new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_best_value_highlighted_in_the_right_row(result: FakeResult) -> None:
    parser = _Cells()
    parser.feed(render_html(result, {}))
    best = {(variant, col) for variant, col, classes in parser.cells if "best" in classes}
    # power_of_two fails 3% of ~2,640 requests against least_connections' 1%:
    # z = 0.02 / sqrt(0.02 * 0.98 * 2 / 2640) = 5.2, beyond noise, so its lower p99
    # and higher goodput are flagged, not best (round_robin's 2%: z = 2.99, noise).
    assert best == {
        ("round_robin", "ok"),
        ("least_connections", "goodput"),
        ("least_connections", "error_rate"),
        ("least_connections", "latency_p50"),
        ("least_connections", "latency_p99"),
        ("least_connections", "latency_p999"),
        ("least_connections", "queue_mean"),
        ("least_connections", "load_imbalance"),
        ("round_robin", "retry_amplification"),
    }
    flagged = {(v, col) for v, col, classes in parser.cells if "flagged" in classes}
    assert flagged == {("power_of_two", "goodput"), ("power_of_two", "latency_p99")}
    cols = {col for _, col, _ in parser.cells}
    assert {"utilization_mean", "rejected_rate", "mystery_metric", "requests"} <= cols


def test_html_formats_units_and_escapes(result: FakeResult) -> None:
    summary = result.summary.copy()
    summary.loc[0, "variant"] = "<script>alert(1)</script>"
    html = render_html(replace(result, summary=summary), {"latency_cdf": b"\x89PNG fake"})
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    rows = "".join(re.findall(r'<tr data-variant="least_connections">(.*?)</tr>', html))
    assert '<td data-col="latency_p99" class="num best" title="best">300</td>' in rows  # ms
    assert '<td data-col="error_rate" class="num best" title="best">1.00</td>' in rows  # %


def test_scenario_in_words(result: FakeResult) -> None:
    words = dict(describe_scenario(result.meta))
    assert words["Traffic"] == (
        "Poisson arrivals, rate profile 100/s at 0s → 1k/s at 10m → 100/s at 20m "
        "(lowest 100/s, peak 1k/s) from 50 clients."
    )
    assert words["Service"].startswith("Exponentially distributed service demand, mean 50ms")
    assert (
        words["Servers"]
        == "2 × web (2 workers, speed 1, unbounded queue) — 2 servers, 4 workers in all."
    )
    # capacity = 4 workers / 50ms = 80/s; peak 1000/s -> rho 12.5
    assert "Capacity ≈ 80/s" in words["Load"] and "ρ ≈ 12.50" in words["Load"]
    assert words["Balancer"] == "Algorithm round_robin."
    assert (
        "balancer.algorithm ∈ {round_robin, least_connections, power_of_two}" in words["Compared"]
    )
    assert "3 variants" in words["Compared"]


def test_a_duration_reads_with_its_unit_where_another_field_of_its_name_is_a_distribution() -> None:
    # tls.rtt is a duration, clients.rtt a distribution (never a bare number)
    tls = {"mode": "terminate", "rtt": 0.02, "round_trips": 1}
    assert words(tls) == "mode terminate, rtt 20ms, round trips 1"
    assert words({"max": 3}) == "max 3"  # retries.max: a count beside durations named max


def test_variant_lines_name_only_the_pools_that_differ() -> None:
    """Two variants that change one pool's count: each line names that pool,
    not the pool that is the same in both."""
    servers = {"workers": 1, "speed": 1.0, "weight": 1}
    meta = {
        "scenario": {
            "servers": [{"name": "web"}, {"name": "db"}],
            "compare": {"servers.0.count": [1, 2]},
        },
        "variants": [
            {
                "name": f"count={n}",
                "params": {"servers.0.count": n},
                "servers": [
                    *({"pool": "web", **servers} for _ in range(n)),
                    {"pool": "db", **servers},
                ],
            }
            for n in (1, 2)
        ],
    }
    lines = dict(describe_scenario(meta))["Variants"].splitlines()
    assert lines == [
        "count=1: servers.0.count = 1 — 1 × web (1 worker, speed 1, weight 1).",
        "count=2: servers.0.count = 2 — 2 × web (1 worker, speed 1, weight 1).",
    ]


def test_scenario_in_words_other_distributions() -> None:
    meta = {
        "scenario": {
            "clients": {
                "count": 1000,
                "nat": {"gateways": 4, "fraction": 0.25},
                "arrivals": {"process": "deterministic", "rate": 2500.0, "profile": None},
                "service": {"dist": "pareto", "alpha": 1.5, "low": 0.01, "high": 10.0},
            },
            "servers": [
                {
                    "name": "big",
                    "count": 2,
                    "workers": 4,
                    "queue_limit": 100,
                    "speed": 2.0,
                    "weight": 3,
                },
                {
                    "name": "small",
                    "count": 4,
                    "workers": 1,
                    "queue_limit": None,
                    "speed": 1.0,
                    "weight": 1,
                },
            ],
            "balancer": {"algorithm": {"name": "power_of_two", "choices": 2}},
            "compare": None,
        },
    }
    words = dict(describe_scenario(meta))
    assert words["Traffic"] == (
        "Evenly spaced (deterministic) arrivals at 2.5k/s from 1,000 clients, "
        "25% of them behind 4 NAT gateways."
    )
    assert words["Service"].startswith(
        "Bounded Pareto service demand (α = 1.5) between 10ms and 10s"
    )
    assert "mean 29.1ms" in words["Service"]  # 1.5/0.5 * (0.01 - 10*0.001^1.5)/(1 - 0.001^1.5)
    assert words["Servers"].startswith(
        "2 × big (4 workers, speed 2, queue limit 100, weight 3); 4 × small"
    )
    assert words["Balancer"] == "Algorithm power_of_two (choices=2)."
    assert words["Compared"] == "Nothing: a single variant."


def test_format_rate() -> None:
    assert [format_rate(r) for r in (0.5, 100, 1000, 2500, 1.2e6)] == [
        "0.5/s",
        "100/s",
        "1k/s",
        "2.5k/s",
        "1.2M/s",
    ]


def test_presentation_and_empty_sections_are_not_described_as_the_scenario() -> None:
    # `report:` says what the table shows, not what was simulated; a section
    # whose words are empty would print as a bare "report:" (seen on retry_storm).
    meta = {"scenario": {"report": {"metrics": None}, "recovery": {}}}
    assert "Also" not in dict(describe_scenario(meta))
    meta = {"scenario": {"report": {"metrics": ["goodput"]}}}
    assert "Also" not in dict(describe_scenario(meta))


def test_a_compared_flag_reads_yes_or_no() -> None:
    # cascading_failure compares through_queue: [true, false]; it read "∈ {, no}".
    path = "balancer.health_check.through_queue"
    meta = {"scenario": {"compare": {path: [True, False]}}, "variants": [{}, {}]}
    assert dict(describe_scenario(meta))["Compared"].startswith(f"{path} ∈ {{yes, no}}: 2 variants")


def test_event_durations_are_shown_with_units(result: FakeResult) -> None:
    """The timeline's ``for=60`` (seconds, as the engine logs it) reads ``for 60s``."""
    events = pd.DataFrame(
        [
            (VARIANTS[0], 10.0, "crash", "web-1", "for=60"),
            (VARIANTS[0], 20.0, "slow", "web-0", "for=0.5"),
        ],
        columns=["variant", "time", "kind", "target", "detail"],
    )
    page = render_html(replace(result, events=events), {})
    assert '<td class="text">for 60s</td>' in page and "for 500ms" in page
    assert "for=60" not in page


def test_zoomed_arrival_panel_shows_the_same_rates(result: FakeResult) -> None:
    """The health plot's zoom (web-1 crashes at 300 s, marked down at 320 s
    here) draws the run's arrival windows over its own range: the same rates
    as the main panel, no window inflated by being cut at the zoom's edge."""
    series = result.timeseries.copy()
    late = (series["server"] == "web-1") & (series["time"] >= 300) & (series["time"] < 320)
    series.loc[late, "healthy"] = True
    fig = health_over_time(replace(result, timeseries=series))
    panels = [ax for ax in fig.axes if any(a.get_gid() == "arrivals" for a in ax.patches)]
    assert len(panels) == 2, "no zoom drawn"
    main, zoom = (
        next(p for p in ax.patches if p.get_gid() == "arrivals").get_data() for ax in panels
    )
    assert zoom.values == pytest.approx(main.values)  # type: ignore[attr-defined]


def test_no_queue_plot_when_nothing_ever_waited(result: FakeResult) -> None:
    assert has_data("queue_depth", result)
    idle = replace(result, timeseries=result.timeseries.assign(queue=0))
    assert not has_data("queue_depth", idle)
    assert "queue_depth" not in figures(idle)


def test_no_health_plot_for_events_of_pools_alone(result: FakeResult) -> None:
    """A canary's shift targets a pool: with every server up and in rotation
    the health plot would be flat lines; a crash of a server draws it."""
    steady = result.timeseries.assign(up=True, healthy=True)
    shift = pd.DataFrame(
        [(VARIANTS[0], 60.0, "shift", "api", "canary=50%")],
        columns=["variant", "time", "kind", "target", "detail"],
    )
    assert not has_data("health_over_time", replace(result, timeseries=steady, events=shift))
    crash = shift.assign(kind="crash", target="web-1")
    assert has_data("health_over_time", replace(result, timeseries=steady, events=crash))


def test_a_shift_says_to_what_and_how_fast() -> None:
    from lbsim.report.variants_text import timeline

    shift = {"at": 60.0, "target": "api", "action": "shift", "version": "canary"}
    stepped = timeline([{**shift, "percent": 50.0, "steps": 3, "every": 30.0}])
    assert stepped == "at 60s: shift api: version canary to 50% in 3 steps 30s apart."
    assert timeline([{**shift, "percent": 0.0, "steps": 1}]).endswith("version canary to 0%.")


def test_events_read_in_time_order_with_compared_times_by_variant() -> None:
    """The capstone's layout: a crash at 150 s listed first, and a region
    failure whose time ``compare`` varies (130 s or 6 m, past a 5 m run)."""
    from lbsim.report.variants_text import timeline

    events = [
        {"at": "150s", "target": "us-big-0", "action": "crash"},
        {"at": "130s", "target": "eu-west", "action": "crash"},
    ]
    text = timeline(events, {"events.1.at": ["130s", "6m"]}, end=300.0)
    assert text == (
        "at 2.17m (130s) or 6m (360s, after the end), by variant: crash eu-west; "
        "at 2.5m (150s): crash us-big-0."
    )
    assert timeline(events).startswith("at 2.17m (130s): crash eu-west; at 2.5m")


def test_sessions_offer_requests_not_session_starts() -> None:
    """4 session starts/s × 20 requests × 30 ms over 16 workers: ρ = 0.15
    (the session start rate alone gave 0.01)."""
    meta = {
        "scenario": {
            "clients": {
                "arrivals": {"process": "poisson", "rate": 4.0},
                "service": {"dist": "exponential", "mean": 0.03},
                "sessions": {"requests": 20, "think": {"dist": "exponential", "mean": 2.0}},
            },
            "servers": [{"name": "web", "count": 4, "workers": 4, "speed": 1.0}],
        }
    }
    words = dict(describe_scenario(meta))
    assert words["Traffic"].startswith("Poisson session starts at 4/s, 20 requests a session")
    assert "mean think time 2s" in words["Traffic"]
    assert "ρ ≈ 0.15" in words["Load"]


def test_many_servers_get_every_kth_name(result: FakeResult) -> None:
    """102 servers: a bar each, a name under every 4th (30 at most)."""
    names = [f"leaf-{i}" for i in range(100)]
    requests = result.requests.assign(
        server=pd.Categorical(
            np.arange(len(result.requests)) % 100, categories=range(100)
        ).rename_categories(names)
    )
    fig = report.server_load(
        replace(result, requests=requests, timeseries=result.timeseries.iloc[0:0])
    )
    labels = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    order = [*SERVERS, *names]  # the meta's servers first, then the others in natural order
    assert len(labels) == len(order) == 102
    shown = [label for label in labels if label]
    assert shown == order[::4] and len(shown) <= 30


def test_capacity_plot_steps_provisioned_and_in_service_over_the_demand(
    result: FakeResult,
) -> None:
    """Two variants' autoscaling events become step lines (provisioned solid,
    in service dashed), the counts after each event, over the arrival rate."""
    rows = []
    for name, boot in ((VARIANTS[0], 30.0), (VARIANTS[1], 90.0)):
        for time, kind, desired, provisioned, in_service in (
            (0.0, "autoscale", 2, 2, 2),
            (300.0, "scale_out", 4, 4, 2),
            (300.0 + boot, "instance_ready", 4, 4, 4),
        ):
            detail = f"pool=web desired={desired} provisioned={provisioned} in_service={in_service}"
            rows.append((name, time, kind, "web", detail))
    events = pd.DataFrame(rows, columns=["variant", "time", "kind", "target", "detail"])
    scaled = replace(result, events=events)
    assert report.plots.has_data("capacity_over_time", scaled)
    assert not report.plots.has_data("capacity_over_time", result)
    fig = report.PLOTS["capacity_over_time"](scaled)
    for variant, boot in ((VARIANTS[0], 30.0), (VARIANTS[1], 90.0)):
        lines = {
            str(line.get_gid()): line
            for ax in fig.axes
            for line in ax.get_lines()
            if line.get_label() == variant
        }
        x, y = lines["in_service"].get_data()
        assert list(np.asarray(x, float)[:3]) == [0.0, 300.0, 300.0 + boot]
        assert list(np.asarray(y, float)[:3]) == [2.0, 2.0, 4.0]
        assert list(np.asarray(lines["provisioned"].get_data()[1], float)[:2]) == [2.0, 4.0]
    assert any(p.get_gid() == "arrivals" for ax in fig.axes for p in ax.patches)


def test_every_variant_has_its_own_colour_past_the_palette() -> None:
    """load_curve run as one comparison has 28 variants: with the 16-colour
    palette cycled, A and Q were drawn alike and the key could not tell them apart."""
    for count in (3, 16, 17, 28):
        names = [f"variant {i}" for i in range(count)]
        assert len(set(variant_colors(names).values())) == count
