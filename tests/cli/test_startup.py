"""Fixed costs, asserted as import graphs rather than wall times (the
machine is shared): ``schema`` and ``validate`` import neither numpy,
pandas, matplotlib nor the engine; ``lbsim --version`` through the console script's
entry point imports nothing but lbsim's own version module; ``run
--no-plots`` never imports matplotlib, while a run with plots does (the
control). ``--help``: tests/cli/test_app.py.

Each command runs in a fresh interpreter (the test process has imported
everything already) and reports which of the watched modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "numpy",  # 0.08 s: the algorithms and distributions import it where they draw
    "pandas",
    "matplotlib",
    "lbsim.engine",
    "lbsim.runner.run",
    "pyarrow",
    "simpy",
)
# what a version string needs none of: the CLI framework, the console, the models
FRAMEWORK = ("typer", "rich", "pydantic", "numpy", "yaml", "lbsim.scenario", "lbsim.cli.commands")
PROBE = """
import contextlib, gc, io, json, sys
from lbsim.cli import main
watched = json.loads(sys.argv[2])
sys.argv = ["lbsim", *json.loads(sys.argv[1])]
with contextlib.redirect_stdout(io.StringIO()) as printed, contextlib.suppress(SystemExit):
    main()
modules = [m for m in watched if m in sys.modules]
print(json.dumps([printed.getvalue(), modules, gc.isenabled(), gc.get_freeze_count()]))
"""


def _probe(args: list[str], watched: tuple[str, ...]) -> tuple[str, list[str], bool, int]:
    """What ``lbsim ARGS`` printed, which of ``watched`` it imported, whether
    the garbage collector was on at the end and how many objects were frozen."""
    answer = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(watched)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    printed, modules, collecting, frozen = json.loads(answer.stdout.strip().splitlines()[-1])
    return printed, modules, collecting, frozen


def _loaded(args: list[str], watched: tuple[str, ...]) -> tuple[str, list[str]]:
    """What ``lbsim ARGS`` printed, and which of ``watched`` it imported."""
    return _probe(args, watched)[:2]


# every distribution, algorithm, arrival profile and empirical file among them
BUNDLED = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("scenarios/**/*.yaml"))


@pytest.mark.parametrize("args", [["schema"], ["validate", *BUNDLED]])
def test_light_commands_import_no_heavy_module(args: list[str]) -> None:
    printed, modules = _loaded(args, HEAVY)
    assert modules == []
    if args[0] == "validate":
        assert printed.count(": ok (") == len(BUNDLED) > 20


def test_the_heap_is_frozen_before_the_interpreter_exits() -> None:
    # its last collection would walk every object of the libraries (0.1-0.2 CPU s)
    assert _probe(["schema"], ())[3] > 10_000


def test_version_through_the_entry_point_imports_no_framework() -> None:
    # the console script calls lbsim.cli.main, as this probe does
    printed, modules = _loaded(["--version"], FRAMEWORK)
    assert printed.startswith("lbsim ")
    assert modules == []


def test_a_command_imports_the_framework() -> None:
    # the control for the test above: the probe sees typer and the models
    _, modules = _loaded(["validate", "scenarios/black_friday_single_region.yaml"], FRAMEWORK)
    assert {"typer", "pydantic", "lbsim.scenario", "lbsim.cli.commands"} <= set(modules)


TINY = """\
name: tiny
duration: 20s
clients:
  arrivals: {rate: 5/s}
  service: {dist: exponential, mean: 100ms}
servers: [{name: web, count: 2}]
"""


@pytest.mark.parametrize(
    ("flags", "drawn"),
    [(["--no-plots"], False), pytest.param([], True, marks=pytest.mark.slow)],  # ~3 s: drawing
)
def test_matplotlib_only_when_plots_are_drawn(
    tmp_path: Path, flags: list[str], drawn: bool
) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    args = ["run", str(scenario), "-q", "-o", str(tmp_path / "out"), *flags]
    printed, modules = _loaded(args, ("matplotlib", "pandas"))
    assert "wrote" in printed
    # pandas both times: the probe sees the run's own imports; the plots are
    # drawn half in a forked child, half here, so a drawing parent imports it
    assert modules == (["matplotlib", "pandas"] if drawn else ["pandas"])
    assert (tmp_path / "out" / "latency_cdf.png").exists() == drawn


def test_the_collector_is_off_while_loading_and_on_for_a_run(tmp_path: Path) -> None:
    # off for a short command from start to end; a run turns it back on
    # once its modules are loaded (lbsim.cli.common.working)
    assert _probe(["validate", "scenarios/black_friday_single_region.yaml"], ())[2] is False
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    args = ["run", str(scenario), "-q", "-o", str(tmp_path / "out"), "--no-plots"]
    printed, _, collecting, _ = _probe(args, ())
    assert "wrote" in printed
    assert collecting is True
