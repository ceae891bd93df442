"""Scenario files: the validated, typed model of what to simulate.

A file is read with positions (:mod:`~lbsim.scenario.source`), overridden by
``--set path=value`` pairs (:mod:`~lbsim.scenario.paths`), validated by the
models (:mod:`~lbsim.scenario.models`, one module per YAML section) and
expanded into variants (:mod:`~lbsim.scenario.variants`): one fully resolved
:class:`Scenario` per combination of the ``compare:`` lists, all with the same
seed and so the same workload. Problems are collected, not raised one by one:
:class:`ScenarioError` (:mod:`~lbsim.scenario.errors`) carries every
``file:line:col: field.path: message``. :func:`load` (:mod:`~lbsim.scenario.loader`)
does it all.
"""

from lbsim.scenario.errors import Problem, ScenarioError
from lbsim.scenario.labels import variant_name
from lbsim.scenario.loader import Loaded, load
from lbsim.scenario.models import (
    AlgorithmChoice,
    Arrivals,
    Clients,
    Crashes,
    EnvoyOutlier,
    HaproxyPassive,
    HealthCheck,
    NginxPassive,
    PassiveCheck,
    Scenario,
    SlowStart,
    TimelineEvent,
    json_schema,
    resolved,
)
from lbsim.scenario.paths import parse_override
from lbsim.scenario.variants import Variant

__all__ = [
    "AlgorithmChoice",
    "Arrivals",
    "Clients",
    "Crashes",
    "EnvoyOutlier",
    "HaproxyPassive",
    "HealthCheck",
    "Loaded",
    "NginxPassive",
    "PassiveCheck",
    "Problem",
    "Scenario",
    "ScenarioError",
    "SlowStart",
    "TimelineEvent",
    "Variant",
    "json_schema",
    "load",
    "parse_override",
    "resolved",
    "variant_name",
]
