"""lbsim: a discrete-event simulator of load-balanced clusters.

>>> import lbsim
>>> result = lbsim.run("scenarios/black_friday.yaml", duration="5m")  # doctest: +SKIP
>>> result.summary[["variant", "latency_p99"]]  # doctest: +SKIP

The public names are imported lazily, on first use: ``import lbsim.scenario``
does not pull in pandas, and ``lbsim --version`` starts fast. Getting
``run``, ``sweep`` or ``Result`` also imports
:mod:`lbsim.report.notebook`, which gives results their Jupyter look
(``_repr_html_``) and ``result.plot`` / ``result.animate``.

``lbsim.make_scenario`` builds a scenario in Python, without a YAML file
(``lbsim.scenario`` is the sub-package, so the name cannot be that):

>>> s = lbsim.make_scenario(name="mm1", clients={...}, servers=[...])  # doctest: +SKIP
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
    from lbsim.scenario import Loaded, Scenario, ScenarioError

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

# Names whose results should look good in Jupyter.
_WITH_NOTEBOOK = frozenset({"Result", "run", "sweep"})

__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load",
    "make_scenario",
    "register_algorithm",
    "run",
    "sweep",
]


def make_scenario(data: dict[str, Any] | None = None, /, **fields: Any) -> Loaded:
    """A validated scenario from a dict and/or keyword fields (they win), as
    if read from YAML: the same fields, units and error messages
    (:class:`ScenarioError`). ``lbsim.run`` and ``lbsim.sweep`` accept it;
    ``.base`` is the :class:`Scenario`, ``.variants`` its ``compare:`` variants."""
    from lbsim.scenario import load as load_data

    return load_data(data={**(data or {}), **fields})


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lbsim' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(import_module(module), attribute)
    if name in _WITH_NOTEBOOK:
        notebook = import_module("lbsim.report.notebook")
        if name == "sweep":
            notebook.register_sweep(import_module("lbsim.runner.sweep").SweepResult)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
