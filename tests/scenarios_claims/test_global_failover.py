"""scenarios/global_failover.yaml shows what its comment says."""

from __future__ import annotations

from pathlib import Path

import pytest

import lbsim

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_global_failover_takes_detection_plus_ttl_and_stale_clients_never_move() -> None:
    """Bounds from the scenario's parameters: detection ≤ failure_threshold ×
    interval = 30 s, then at most one TTL of cached answers; failover_time is
    measured in bins of duration / 500 = 2.88 s. A resolver asks the authority
    at most once per TTL, so DNS queries/s ≤ resolvers (8 per location × 2) / TTL."""
    path = ROOT / "scenarios" / "global_failover.yaml"
    rows = lbsim.run(path, records="none").summary.set_index("variant").to_dict("index")
    detection, width, outage, resolvers = 30.0, 2.88, 720.0, 16
    fast, slow = rows["ttl=60s / stale=none"], rows["ttl=300s / stale=none"]
    assert 0 < fast["failover_time"] <= detection + 60 + width
    assert fast["failover_time"] < slow["failover_time"] <= detection + 300 + width
    assert 0 < fast["dead_region_requests"] < slow["dead_region_requests"]
    for ttl in ("60s", "300s"):
        stale = rows[f"ttl={ttl} / share=0.1, hold=1h"]
        fresh = rows[f"ttl={ttl} / stale=none"]
        assert stale["failover_time"] == pytest.approx(outage)  # never below 1% before recovery
        assert stale["dead_region_requests"] > fresh["dead_region_requests"]
    assert fast["dns_queries_per_s"] <= resolvers / 60
    assert slow["dns_queries_per_s"] <= resolvers / 300
    assert fast["dns_queries_per_s"] > 4 * slow["dns_queries_per_s"]  # "about 5x"
