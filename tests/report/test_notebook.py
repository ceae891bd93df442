"""Jupyter helpers: the HTML reprs, the ``.plot`` accessors, ``lbsim.make_scenario``."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from matplotlib.axes import Axes

import lbsim
from lbsim.analysis.metrics import METRICS, SWEEP_METRICS, TERMINAL_METRICS
from lbsim.report import plots
from lbsim.report.sweep_charts import load_curve
from tests.conftest import cluster

SMALL = cluster(
    duration="2m",
    **{"compare": {"balancer.algorithm": ["random", "round_robin", "least_connections"]}},
)
VARIANTS = ["random", "round_robin", "least_connections"]


class _Table(HTMLParser):
    """Collects tags (checking every opened tag is closed in order), row
    variants, and the data-col of cells marked best."""

    VOID = frozenset({"br", "hr", "img", "meta", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.variants: list[str] = []
        self.best: list[str] = []
        self.headers: list[str] = []
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "tr" and found.get("data-variant"):
            self.variants.append(str(found["data-variant"]))
        if tag == "td" and "best" in str(found.get("class", "")).split():
            self.best.append(str(found["data-col"]))
        if tag == "th" and found.get("scope") == "col":
            self.headers.append(str(found.get("title", "")))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def _parse(html: str) -> _Table:
    parser = _Table()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed tags {parser.stack}"
    return parser


@pytest.fixture(scope="module")
def result() -> lbsim.Result:
    return lbsim.run(SMALL)


def test_result_html_is_valid_lists_every_variant_and_marks_the_best(
    result: lbsim.Result,
) -> None:
    table = _parse(result._repr_html_())
    assert table.variants == VARIANTS
    # The compact view: the terminal's metrics, in catalogue order, after requests
    # (but not those empty in every row: the session metrics of a run without sessions).
    summary = result.summary
    shown = [
        m for m in METRICS if m in TERMINAL_METRICS and m in summary and summary[m].notna().any()
    ]
    assert "sessions_lost" in TERMINAL_METRICS and "sessions_lost" not in shown
    assert table.headers[-len(shown) :] == shown
    p99 = result.summary.set_index("variant")["latency_p99"]
    assert "latency_p99" in table.best
    # The marked p99 is the smallest one (least_connections beats random at ρ = 0.5).
    marked = [v for v in VARIANTS if p99[v] == p99.min()]
    assert marked == ["least_connections"]
    assert '<span class="unit">ms · ok</span>' in result._repr_html_()  # unit · population


def test_sweep_html_is_valid_and_lists_every_variant_at_every_point() -> None:
    sweep = lbsim.sweep(
        SMALL, replications=2, jobs=1, grid={"clients.arrivals.rate": [1.0, 2.0]}, duration="1m"
    )
    html = sweep._repr_html_()
    table = _parse(html)
    assert table.variants == VARIANTS * 2
    assert table.headers[-len(SWEEP_METRICS) :] == list(SWEEP_METRICS)
    assert " ± " in html  # two replications give an interval
    axes = sweep.plot.load_curve()
    assert isinstance(axes, Axes)
    reference = load_curve(sweep.summary, params=sweep.meta["grid_params"], meta=sweep.meta)
    assert axes.get_title() == reference.axes[0].get_title()


@pytest.mark.parametrize(
    ("method", "plot"),
    [
        ("cdf", "latency_cdf"),
        ("percentiles", "latency_over_time"),
        ("queues", "queue_depth"),
        ("errors", "errors_over_time"),
        ("health", "health_over_time"),
        ("servers", "server_load"),
        ("capacity", "capacity_over_time"),
    ],
)
def test_plot_accessor_returns_the_reports_figure_axes(
    result: lbsim.Result, method: str, plot: str
) -> None:
    axes = getattr(result.plot, method)()
    assert isinstance(axes, Axes)
    reference = plots.PLOTS[plot](result)
    assert axes.figure.get_suptitle() == reference.get_suptitle()
    assert len(axes.figure.axes) == len(reference.axes)
    labels = sorted(str(line.get_label()) for line in axes.get_lines())
    assert labels == sorted(str(line.get_label()) for line in reference.axes[0].get_lines())


def test_make_scenario_validates_like_yaml() -> None:
    data: dict[str, Any] = cluster(duration="2m")
    loaded = lbsim.make_scenario(data, seed=5)
    assert loaded.base.seed == 5 and loaded.base.duration == 120.0
    with pytest.raises(lbsim.ScenarioError) as caught:
        lbsim.make_scenario(data, duration="2q")
    assert "malformed duration '2q'" in str(caught.value)
    with pytest.raises(lbsim.ScenarioError, match="did you mean"):
        lbsim.make_scenario(data, servrs=[])
