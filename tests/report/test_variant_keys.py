"""Long variant names in plots: letters with a key, so the axes keep their width.

The synthetic result of ``test_report`` with variant names far longer than
:data:`~lbsim.report.plots.common.KEY_WIDTH` (as a compared mapping gives):
every in-plot mention is a letter, every legend entry (or panel title) is
``letter: full name``, each variant's letter unique, and the data axes keep
most of the figure's width.
"""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from lbsim.report import PLOTS
from lbsim.report.diff_plot import diff_figure
from lbsim.report.plots.common import KEY_WIDTH, key_label, variant_keys
from tests.report.test_report import FakeResult, make_result

LONG = [
    "least_connections, slow_start={preset: envoy, window: 60s, aggression: 1.0}",
    "least_connections, slow_start={preset: haproxy, window: 60s}",
    "round_robin, slow_start=none, health_check={preset: haproxy, interval: 2s}",
]


def test_keys_only_when_some_name_is_too_wide() -> None:
    short = ["round_robin", "least_connections"]
    assert variant_keys(short) == {n: n for n in short}
    assert variant_keys(["x" * KEY_WIDTH]) == {"x" * KEY_WIDTH: "x" * KEY_WIDTH}
    keys = variant_keys([*short, "y" * (KEY_WIDTH + 1)])
    assert list(keys.values()) == ["A", "B", "C"]
    assert key_label(short[0], keys) == "A: round_robin"
    assert variant_keys([*short, "y" * 40], digits=True)[short[1]] == "2"
    many = variant_keys([f"{'z' * 30}{i}" for i in range(28)])
    assert list(many.values())[24:] == ["Y", "Z", "AA", "AB"]
    assert len(set(many.values())) == 28


@pytest.fixture(scope="module")
def result() -> FakeResult:
    return make_result(LONG)


def _legend_texts(fig: Figure) -> list[str]:
    return [t.get_text().replace("\n", " ") for legend in fig.legends for t in legend.get_texts()]


@pytest.mark.parametrize("name", list(PLOTS))
def test_legend_is_the_key(result: FakeResult, name: str) -> None:
    """Each variant's entry reads ``letter: full name`` (in the panel titles
    of the health plot's small multiples)."""
    fig = PLOTS[name](result)
    texts = _legend_texts(fig)
    if name in ("health_over_time", "capacity_over_time"):  # small multiples
        texts = [ax.get_title(loc="left").replace("\n", " ") for ax in fig.axes]
    keyed = [t for t in texts if t[:3] in ("A: ", "B: ", "C: ")]
    assert sorted(keyed) == sorted(f"{k}: {n}" for k, n in zip("ABC", LONG, strict=True))


def test_axes_keep_their_width(result: FakeResult) -> None:
    """The CDF's axes span most of the figure once laid out (a side legend
    of these 70-character names would leave them under half of it)."""
    fig = PLOTS["latency_cdf"](result)
    fig.draw_without_rendering()  # constrained layout runs at draw time
    assert max(ax.get_position().width for ax in fig.axes) > 0.6


def test_event_labels_name_variants_by_letter(result: FakeResult) -> None:
    """``marked_down web-1`` was seen by the first variant alone."""
    fig = PLOTS["latency_over_time"](result)
    labels = [t.get_text().strip() for t in fig.axes[0].texts if t.get_gid() == "event_label"]
    assert "marked_down web-1 (A)" in labels
    assert not any(LONG[0] in label for label in labels)


def test_diff_plot_ticks_are_numbers_with_a_key() -> None:
    frame = pd.DataFrame(
        {
            "variant": LONG,
            "metric": "latency_p99",
            "a": [0.1, 0.2, 0.3],
            "b": [0.1, 0.3, 0.2],
            "absolute": [0.0, 0.1, -0.1],
            "relative": [0.0, 0.5, -0.33],
            "moved": ["same", "worse", "better"],
        }
    )
    fig = diff_figure(frame)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "2", "3"]
    key = fig.get_supxlabel().replace("\n", " ")
    for i, name in enumerate(LONG, start=1):
        assert f"{i}: {name}" in key
