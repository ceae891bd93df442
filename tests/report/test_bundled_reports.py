"""Every bundled scenario's report, rendered from its run as shipped, checked for
what a reader must see: the scenario in words (no Python literals), the
balancer-alone sentence only when true, each event once, summary tables
narrow enough for a 1400 px screen, and utilisation bars that agree with
the summary. (Screenshots in headless Chromium were checked by eye; this
keeps the structure honest.)

The runs are the session's shared ones (``bundled`` in tests/conftest.py),
so these cost only the rendering, except the utilisation check on a small
M/M/1 cluster.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

import lbsim
from lbsim.report import PLOTS, has_data, render_html, server_load
from lbsim.report.plots.servers import MIN_UTILISATION_SAMPLES, measured_samples
from lbsim.report.wording import _duration_keys, key_words
from tests.conftest import ROOT, Bundled

SCENARIOS = [
    p
    for p in sorted((ROOT / "scenarios").glob("*.yaml")) + sorted(ROOT.glob("scenarios/*/*.yaml"))
    if "sweep" not in yaml.safe_load(p.read_text())
]
MAX_COLUMNS = 14  # variant + 13 numbers fit 1400 px at the report's 0.85rem (checked by eye)


SMALL = """
name: small
seed: 5
duration: 2m
warmup: 20s
clients:
  arrivals: {rate: 24/s}
  service: {dist: exponential, mean: 100ms}
servers:
  - {name: web, count: 4}
compare:
  balancer.algorithm: [round_robin, random]
"""


def test_utilisation_bars_cover_the_measured_window_not_the_drain() -> None:
    """ρ = 24/s × 0.1 s / 4 = 0.6 per server. The summary integrates busy
    time over [warm-up, duration) exactly; the bars average ~83 samples per
    server of in_service (0 or 1). Service times (0.1 s) are short against
    the sample interval (0.24 s), so samples are close to independent
    Bernoulli(0.6): the SE of the mean over 4 × 83 samples is
    sqrt(0.24 / 332) ≈ 0.027; 0.08 is 3 SE. The drain (as long as the run,
    idle) halved the bars before: 0.3, caught by 10 SE."""
    result = lbsim.run(lbsim.scenario.load(text=SMALL))
    fig = server_load(result)
    for container in fig.axes[1].containers:
        shown = float(np.mean([p.get_height() for p in container.patches])) / 100
        summary = result.summary.set_index("variant").loc[container.get_label(), "utilization_mean"]
        assert shown == pytest.approx(summary, abs=0.08)
        assert shown == pytest.approx(0.6, abs=0.08 + 0.05)  # + the run's own noise vs theory


@pytest.fixture(params=SCENARIOS, ids=lambda p: p.stem)
def run(request: pytest.FixtureRequest, bundled: Bundled) -> tuple[Path, lbsim.Result]:
    path: Path = request.param
    return path, bundled(path.relative_to(ROOT / "scenarios").as_posix())


class Page(HTMLParser):
    """Text of the scenario section, event rows and the summary tables' widths."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.scenario: list[str] = []
        self.events: list[tuple[str, ...]] = []
        self.table_columns: list[int] = []
        self._row: list[str] | None = None
        self._cell = False
        self._table = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "h2":
            self.section = str(a.get("id") or "")
        elif tag == "table":
            self._table = str(a.get("class") or "")
            if self._table == "summary":
                self.table_columns.append(0)
        elif tag == "th" and self._table == "summary" and a.get("scope") == "col":
            self.table_columns[-1] += 1
        elif tag == "tr" and self._table == "events":
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = True
            self._row.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            if self._row:
                self.events.append(tuple(self._row))
            self._row = None
        elif tag == "td":
            self._cell = False
        elif tag == "table":
            self._table = ""

    def handle_data(self, data: str) -> None:
        if self.section == "scenario" and data.strip():
            self.scenario.append(data.strip())
        if self._cell and self._row is not None:
            self._row[-1] += data


@pytest.mark.slow
def test_report_structure(run: tuple[Path, lbsim.Result]) -> None:
    path, result = run
    page = Page()
    page.feed(render_html(result, {}))
    words = " ".join(page.scenario)
    for literal in ("None", "True", "False", "null", "?", "{'", '{"', "':", '":'):
        assert literal not in words, f"{path.name}: Python/JSON literal {literal!r} in: {words}"
    for key in _duration_keys():  # every duration with its unit (tls rtt 20ms, not 0.02)
        for number, after in re.findall(rf"\b{key_words(key)} ([0-9][0-9.,]*)(\S*)", words):
            unit = re.match(r"(µs|ms|s|m|h|d)\b|k?/", after)  # (or a rate: "at 76/s", "3k/s")
            assert unit, f"{path.name}: {key} {number}{after}"
    compare = result.meta["scenario"].get("compare") or {}
    balancer_only = bool(compare) and all(k.startswith("balancer.") for k in compare)
    assert ("differences come from the balancer alone" in words) == balancer_only
    if compare and not balancer_only:
        for variant in result.meta["variants"]:
            assert f"{variant['name']}: " in words  # a line per variant
    assert len(page.events) == len(set(page.events)), "an event listed twice"
    if not result.events.empty:
        assert page.events, "events table missing"
        times = [float(row[0].replace(",", "")) for row in page.events]
        assert times == sorted(times)
    assert page.table_columns and max(page.table_columns) <= MAX_COLUMNS


@pytest.mark.slow
def test_utilisation_bars_equal_the_summary(run: tuple[Path, lbsim.Result]) -> None:
    """Workers-weighted mean of the bars vs the summary's exact integral.

    The bars average samples every ``sample_interval`` (about 480 per server
    in the measured window) of in-service/workers; the summary integrates
    busy time exactly. Samples of a level that changes every service time
    (≪ the sample interval) are nearly independent, so the relative error of
    their mean is about sqrt((1 - u) / (u * samples)) ≤ 0.09 at the lowest
    utilisation here (u ≈ 6%, 4 servers); 0.25 is ~3 standard errors and
    still catches the drain bug, which halved the bars (-50%).
    A server with fewer than ``MIN_UTILISATION_SAMPLES`` samples in the
    window (aws_backoff_jitter: a 4 ms window, 100 ms sampling) gets no bar.
    """
    path, result = run
    fig = server_load(result)
    counts = measured_samples(result).groupby("server", observed=True).size()
    if (counts < MIN_UTILISATION_SAMPLES).all():
        bars = [p.get_height() for c in fig.axes[1].containers for p in c.patches]
        assert not np.isfinite(bars).any(), path.name
        return
    workers = {s["name"]: s["workers"] for s in result.meta["servers"]}
    servers = [s["name"] for s in result.meta["servers"]]  # the bars' order
    assert len(fig.axes[1].get_xticks()) == len(servers)
    for container in fig.axes[1].containers:
        name = str(container.get_label())
        bars = np.array([p.get_height() for p in container.patches]) / 100
        weights = np.array([workers[s] for s in servers], dtype=float)
        shown = float(np.nansum(bars * weights) / weights[np.isfinite(bars)].sum())
        row = result.summary.set_index("variant").loc[name]
        summary = row["utilization_mean"]
        if "instance_hours" in row:  # autoscaling: the summary is over provisioned time,
            # the bars over every host the variant allocated (a bar each; a
            # smaller ``max`` allocates fewer). Equal workers (one each in
            # autoscaling.yaml, two in black_friday.yaml): the weights cancel.
            assert len(set(workers.values())) == 1
            window = result.meta["duration"] - result.meta["warmup"]
            allocated = int(np.isfinite(bars).sum())
            summary *= row["instance_hours"] * 3600 / (window * allocated)
        assert shown == pytest.approx(summary, rel=0.25, abs=0.005), f"{path.name} {name}"


@pytest.mark.slow
def test_no_empty_plot_is_drawn(run: tuple[Path, lbsim.Result]) -> None:
    _, result = run
    if not (result.requests["status"] != "ok").any():
        assert not has_data("errors_over_time", result)
    assert all(has_data(name, result) for name in ("latency_cdf", "server_load"))
    assert has_data("queue_depth", result) == bool((result.timeseries["queue"] > 0).any())
    assert set(PLOTS) >= {"latency_cdf"}


@pytest.mark.slow
def test_scenario_words_have_units_for_event_times(run: tuple[Path, lbsim.Result]) -> None:
    path, result = run
    page = Page()
    page.feed(render_html(result, {}))
    text = " ".join(page.scenario)
    for event in result.meta["scenario"].get("events") or []:
        assert re.search(rf"at [^:]*\b{event['at']:g}s\b", text), f"{path.name}: {text}"
