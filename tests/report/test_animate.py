"""The classroom animation: it renders, saves, and shows what the samples say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import lbsim
from lbsim.cli.commands import app
from lbsim.report.animate import animate
from tests.conftest import cluster

SMALL = cluster(duration="1m", sample_interval="1s")


@pytest.fixture(scope="module")
def result() -> lbsim.Result:
    return lbsim.run(SMALL)


# Drawing frames by hand never "renders" the animation, which matplotlib warns about.
@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
def test_each_frame_draws_the_sampled_levels(result: lbsim.Result) -> None:
    movie = animate(result, start=10, end=20)
    assert movie.frames == 11  # samples every second, 10 s to 20 s inclusive
    movie.animation._func(5)  # the frame at t = 15 s
    bars = movie.figure.axes[0].patches
    servers = len(bars) // 2
    sample = result.timeseries[result.timeseries["time"] == 15.0]
    assert [b.get_height() for b in bars[:servers]] == sample["in_service"].tolist()
    assert [b.get_height() for b in bars[servers:]] == sample["queue"].tolist()
    assert np.allclose([b.get_y() for b in bars[servers:]], sample["in_service"])
    assert "t = 15.0 s" in movie.figure.axes[0].get_title()


def test_renders_as_html_and_saves_gif_and_html(result: lbsim.Result, tmp_path: Path) -> None:
    movie = result.animate(None, 0, 5)  # type: ignore[attr-defined]
    assert "<script" in movie._repr_html_()
    gif = movie.save(tmp_path / "q.gif")
    assert gif.read_bytes()[:6] == b"GIF89a"
    page = movie.save(tmp_path / "q.html")
    assert page.stat().st_size > 1000
    with pytest.raises(ValueError, match="one of"):
        movie.save(tmp_path / "q.png")


def test_unknown_variant_is_named(result: lbsim.Result) -> None:
    with pytest.raises(ValueError, match="no variant 'nope'"):
        animate(result, "nope")


def test_cli_writes_the_animation(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(cluster(duration="20s", sample_interval="1s")))
    target = tmp_path / "q.gif"
    out = tmp_path / "out"
    args = ["run", str(scenario), "-o", str(out), "-q", "--animate", str(target)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert target.stat().st_size > 0 and target.read_bytes()[:3] == b"GIF"
    bad = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "q.png")])
    assert bad.exit_code == 2 and "must end in .gif, .html or .mp4" in bad.output
