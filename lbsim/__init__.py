"""lbsim: a discrete-event simulator of load-balanced clusters.

>>> import lbsim
>>> result = lbsim.run("scenarios/black_friday.yaml", duration="5m")  # doctest: +SKIP
>>> result.summary[["variant", "latency_p99"]]  # doctest: +SKIP
"""

__version__ = "0.1.0"

from lbsim.algorithms import register_algorithm
from lbsim.api import load_scenario as load
from lbsim.api import run
from lbsim.result import Result
from lbsim.scenario import Scenario, ScenarioError
from lbsim.sweep import sweep

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
