"""The scenario schema, one module per YAML section; every default lives here, once."""

from lbsim.scenario.models.balancer import AlgorithmChoice, Balancer, SlowStart
from lbsim.scenario.models.clients import Arrivals, Clients, Nat, PositiveRate, Rate, RatePoint
from lbsim.scenario.models.connections import ConnectionLimits, Connections, KeepAlive, WebSocket
from lbsim.scenario.models.events import Action, Crashes, Faults, RandomDuration, TimelineEvent
from lbsim.scenario.models.health import HEALTH_PRESETS, HealthCheck
from lbsim.scenario.models.passive import EnvoyOutlier, HaproxyPassive, NginxPassive, PassiveCheck
from lbsim.scenario.models.patterns import Fanout, Hedge
from lbsim.scenario.models.recovery import Recovery
from lbsim.scenario.models.report import Report
from lbsim.scenario.models.retries import Backoff, Outcome, Retries, RetryBudget
from lbsim.scenario.models.scenario import Scenario, json_schema, resolved
from lbsim.scenario.models.servers import NAME_PATTERN, Name, ServerPool, SlowdownPoint
from lbsim.scenario.models.sweep import Sweep

__all__ = [
    "HEALTH_PRESETS",
    "NAME_PATTERN",
    "Action",
    "AlgorithmChoice",
    "Arrivals",
    "Backoff",
    "Balancer",
    "Clients",
    "ConnectionLimits",
    "Connections",
    "Crashes",
    "EnvoyOutlier",
    "Fanout",
    "Faults",
    "HaproxyPassive",
    "HealthCheck",
    "Hedge",
    "KeepAlive",
    "Name",
    "Nat",
    "NginxPassive",
    "Outcome",
    "PassiveCheck",
    "PositiveRate",
    "RandomDuration",
    "Rate",
    "RatePoint",
    "Recovery",
    "Report",
    "Retries",
    "RetryBudget",
    "Scenario",
    "ServerPool",
    "SlowStart",
    "SlowdownPoint",
    "Sweep",
    "TimelineEvent",
    "WebSocket",
    "json_schema",
    "resolved",
]
