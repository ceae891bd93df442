"""Fixed costs: ``schema`` and ``validate`` import neither pandas, matplotlib
nor the engine (``--version`` and ``--help``: tests/cli/test_app.py).

Each command runs in a fresh interpreter (the test process has imported
everything already) and reports which heavy modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "matplotlib", "lbsim.engine.world", "lbsim.runner.run", "pyarrow", "simpy")
PROBE = """
import contextlib, io, json, sys
from lbsim.cli import main
sys.argv = ["lbsim", *json.loads(sys.argv[1])]
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main()
print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
"""


@pytest.mark.parametrize(
    "args",
    [["schema"], ["validate", "scenarios/black_friday.yaml"]],
)
def test_light_commands_import_no_heavy_module(args: list[str]) -> None:
    probe = PROBE.format(heavy=HEAVY)
    answer = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(answer.stdout.strip().splitlines()[-1]) == []
