"""Envoy's peak EWMA evaluation (scenarios/published/envoy_peak_ewma.yaml).

Nine servers answer in 5 ms, one in 50 ms; eight workers each and 200
requests/s keep queueing out (the slow server holds at most 20/s × 50 ms = 1
request on average under an even split), so a latency is 5 ms or 50 ms. The
p99 is therefore 50 ms exactly when the slow server takes more than 1 % of
the requests, and 5 ms when it takes less. Policies blind to latency give it
a tenth (round robin exactly; random 10 % ± 0.3 % at 1 sd over the 10,000
measured requests; the hash policies whatever share of the 2,000 clients
hash to it, ≈ 10 %): p99 = 50 ms, Envoy's figure. Peak EWMA sends it only
the probes its decaying average allows (one 50 ms sample lasts until
50·e^(-t/10 s) < 10 ms, t ≈ 16 s): p99 = 5 ms, where Envoy reports ≈ 7 ms
(its figure includes the proxy and network; lbsim has neither).
"""

from __future__ import annotations

import numpy as np

from tests.conftest import Bundled

BLIND = ("round_robin", "power_of_two", "random", "ring_hash", "maglev")


def test_peak_ewma_avoids_the_slow_server(bundled: Bundled) -> None:
    result = bundled("published/envoy_peak_ewma.yaml")
    p99 = dict(zip(result.summary["variant"], result.summary["latency_p99"], strict=True))
    for variant in BLIND:
        assert p99[variant] >= 0.050, (variant, p99[variant])
    assert p99["peak_ewma"] < 0.0055
    requests = result.requests
    measured = requests[(requests["variant"] == "peak_ewma") & (requests["arrival"] >= 10.0)]
    slow_share = float(np.mean(measured["server"] == 9))
    assert slow_share < 0.01, slow_share
