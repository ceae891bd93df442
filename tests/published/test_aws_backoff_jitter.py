"""AWS "Exponential Backoff and Jitter" (Brooker, 2015),
scenarios/published/aws_backoff_jitter.yaml.

The post's claim, from its figures of calls and completion time against
contending clients: full jitter does about half the work of plain
exponential back-off and finishes far sooner; equal and decorrelated jitter
sit near full jitter. Its simulator (aws-samples/aws-arch-backoff-simulator),
rerun for 100 runs at 50 clients, gives the published curves' values at 50:

    exponential 628 calls, 36.7 s; full jitter 333, 2.8 s;
    equal jitter 348, 4.3 s; decorrelated 373, 2.3 s

(full / exponential: 0.53 of the calls, 0.077 of the time).

Sample: 8 paired replications of the 50 writers. lbsim's per-run standard
deviations are ≈ 39 calls (exponential), 6 (full, equal), 20
(decorrelated), 3.1 s and 0.4 s (exponential and full completion), so
the 8-run means carry standard errors of 2.1 %, 0.6 %, 0.6 % and 1.9 % of
the calls and ≈ 3 % and 6 % of the times; the post's 100-run means add a
third of that. Tolerances are about 5 standard errors: calls within 10 %
(exponential), 5 % (full, equal), 8 % (decorrelated); the ratio of calls
0.53 ± 0.06 and of completion times 0.077 ± 0.025. A model that lost the
synchronisation of un-jittered retries, or drew no new legs per attempt
(exponential then makes ≈ 480 calls), fails.
"""

from __future__ import annotations

import pytest

import lbsim
from lbsim.runner.run import replicate
from tests.conftest import ROOT

SCENARIO = ROOT / "scenarios" / "published" / "aws_backoff_jitter.yaml"
WRITERS = 50
PUBLISHED_CALLS = {"none": 628, "full": 333, "equal": 348, "decorrelated": 373}
TOLERANCE = {"none": 0.10, "full": 0.05, "equal": 0.05, "decorrelated": 0.08}


def test_full_jitter_halves_the_calls_and_finishes_far_sooner() -> None:
    rows = replicate(SCENARIO, 8)
    assert (rows["ok"] == WRITERS).all()  # every writer commits in the end
    means = rows.groupby("variant")[["retry_amplification", "latency_max"]].mean()
    calls = {
        v.removeprefix("jitter="): c * WRITERS for v, c in means["retry_amplification"].items()
    }
    finish = {v.removeprefix("jitter="): t for v, t in means["latency_max"].items()}
    for jitter, published in PUBLISHED_CALLS.items():
        assert calls[jitter] == pytest.approx(published, rel=TOLERANCE[jitter]), calls
    assert calls["full"] / calls["none"] == pytest.approx(0.53, abs=0.06), calls
    assert finish["full"] / finish["none"] == pytest.approx(0.077, abs=0.025), finish
    assert max(finish["equal"], finish["decorrelated"]) < 0.2 * finish["none"], finish


def test_without_contention_nobody_retries() -> None:
    """The conflicts come from the row: without optimistic concurrency the
    same 50 writers all succeed at their first call."""
    result = lbsim.run(SCENARIO, servers=[{"name": "row", "count": 1, "workers": 50}])
    assert (result.summary["retry_amplification"] == 1.0).all()
