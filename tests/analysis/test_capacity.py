"""Autoscaling metrics from a hand-written event log (values derived by hand)."""

from __future__ import annotations

import math

import numpy as np

from lbsim.analysis.capacity import capacity_metrics
from lbsim.analysis.metrics import scenario_metrics
from lbsim.engine.records import Event, Recorder
from lbsim.scenario import Scenario, resolved
from tests.conftest import scenario


def _event(time: float, kind: str, desired: int, provisioned: int, in_service: int) -> Event:
    detail = f"pool=web desired={desired} provisioned={provisioned} in_service={in_service}"
    return Event(time, kind, "web", detail)


def test_capacity_metrics_by_hand() -> None:
    """An autoscaled pool (2 workers each) beside a fixed one (1 server, 1 worker),
    measured over [50, 400]:

    provisioned 2 on [50, 100), 4 on [100, 310), 3 on [310, 320), 2 on [320, 400]:
    100 + 840 + 30 + 160 = 1130 instance-seconds, plus 350 of the fixed server:
    1480 s = 0.41111 h. Peak 4 + 1 = 5. The scale-out at 100 asks for 4; the
    4th is in service at 140: 40 s. Worker-seconds 1130·2 + 350·1 = 2610; 261
    busy is 10%. Per server over the mean 1480 / 350 provisioned servers:
    370 s of queue is 370 / 1480 = 0.25 waiting; 60 of 169 requests on the
    busiest host is 60 / (169 · 350 / 1480) = 1.5013 × the mean (over all 5
    hosts it would read 60 / 33.8 = 1.775).
    """
    config = Scenario.model_validate(
        scenario(
            warmup=50,
            duration=400,
            servers=[
                {
                    "name": "web",
                    "count": 2,
                    "workers": 2,
                    "autoscale": {"max": 4, "metric": "cpu", "target": 50},
                },
                {"name": "db", "count": 1},
            ],
        )
    )
    rec = Recorder(0, 5)
    rec.events = [
        _event(0, "autoscale", 2, 2, 2),
        _event(100, "scale_out", 4, 4, 2),
        _event(130, "instance_ready", 4, 4, 3),
        _event(140, "instance_ready", 4, 4, 4),
        _event(300, "scale_in", 2, 4, 2),
        _event(310, "instance_terminated", 2, 3, 2),
        _event(320, "instance_terminated", 2, 2, 2),
        Event(200, "crash", "db-0"),  # not an autoscaling event
    ]
    rec.busy_area = np.array([100.0, 100.0, 30.0, 31.0, 0.0])
    rec.queue_area = np.array([200.0, 100.0, 50.0, 20.0, 0.0])
    got = capacity_metrics(config, rec, 50, 400, np.array([60, 50, 30, 0, 29]))
    assert got["instances_peak"] == 5
    assert math.isclose(got["instance_hours"], 1480 / 3600)
    assert got["scale_out_time"] == 40
    assert math.isclose(got["utilization_mean"], 0.1)
    assert math.isclose(got["queue_mean"], 0.25)
    assert math.isclose(got["load_imbalance"], 60 / (169 * 350 / 1480))


def test_no_autoscaling_no_metrics() -> None:
    assert (
        capacity_metrics(Scenario.model_validate(scenario()), Recorder(0, 1), 0, 1, np.ones(1))
        == {}
    )


def test_the_terminal_table_shows_autoscaling_only_with_it() -> None:
    scaled = {"max": 4, "metric": "cpu", "target": 50}
    with_it = resolved(Scenario.model_validate(scenario(**{"servers.0.autoscale": scaled})))
    assert {"instance_hours", "instances_peak", "scale_out_time"} <= set(scenario_metrics(with_it))
    varied = resolved(
        Scenario.model_validate(scenario(compare={"servers.0.autoscale": [None, scaled]}))
    )
    assert "instance_hours" in scenario_metrics(varied)
    assert "instance_hours" not in scenario_metrics(resolved(Scenario.model_validate(scenario())))
