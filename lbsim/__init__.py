"""lbsim: a discrete-event simulator of load-balanced clusters.

>>> import lbsim
>>> result = lbsim.run("scenarios/black_friday.yaml", duration="5m")  # doctest: +SKIP
>>> result.summary[["variant", "latency_p99"]]  # doctest: +SKIP

The public names are imported lazily, on first use: ``import lbsim.scenario``
does not pull in pandas, and ``lbsim --version`` starts fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from lbsim._version import __version__

if TYPE_CHECKING:
    from lbsim.algorithms import register_algorithm
    from lbsim.analysis.result import Result
    from lbsim.runner.run import load_scenario as load
    from lbsim.runner.run import run
    from lbsim.runner.sweep import sweep
    from lbsim.scenario import Scenario, ScenarioError

# public name -> (module, attribute)
_LAZY = {
    "Result": ("lbsim.analysis.result", "Result"),
    "Scenario": ("lbsim.scenario", "Scenario"),
    "ScenarioError": ("lbsim.scenario", "ScenarioError"),
    "load": ("lbsim.runner.run", "load_scenario"),
    "register_algorithm": ("lbsim.algorithms", "register_algorithm"),
    "run": ("lbsim.runner.run", "run"),
    "sweep": ("lbsim.runner.sweep", "sweep"),
}

__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load",
    "register_algorithm",
    "run",
    "sweep",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lbsim' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
