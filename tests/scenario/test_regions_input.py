"""Bad regions / network / DNS input through the CLI: file:line, field path, message, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli_errors import validate

GOOD = """\
name: global
duration: 1m
clients:
  arrivals: {process: poisson, rate: 5/s}
  service: {dist: exponential, mean: 10ms}
  locations:
    - {name: us, share: 0.5, continent: NA, country: US}
    - {name: eu, share: 0.5, continent: EU, country: DE}
servers:
  - {name: us-web, count: 2}
  - {name: eu-web, count: 2}
regions:
  - {name: us, servers: [us-web]}
  - {name: eu, servers: [eu-web]}
network:
  rtt:
    us: {us: 10ms, eu: 80ms}
    eu: {us: 80ms, eu: 10ms}
dns:
  policy: failover
  health_check: {interval: 10s}
  records:
    - {region: us, role: primary}
    - {region: eu, role: secondary}
"""


def test_the_good_file_validates(tmp_path: Path) -> None:
    assert validate(tmp_path, GOOD)[0] == 0


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        (
            "    eu: {us: 80ms, eu: 10ms}\n",
            "",
            "s.yaml:8:8: clients.locations.1.name",
            "client location 'eu' has no network.rtt entry to us, eu",
        ),
        (
            "    us: {us: 10ms, eu: 80ms}",
            "    us: {us: 10ms}",
            "s.yaml:7:8: clients.locations.0.name",
            "no network.rtt entry to eu",
        ),
        (
            "    - {region: eu, role: secondary}\n",
            "",
            "s.yaml:22:3: dns.records",
            "the failover policy needs exactly one secondary record",
        ),
        (
            "    - {region: eu, role: secondary}",
            "    - {region: euu, role: secondary}",
            "s.yaml:24:8: dns.records.1.region",
            "unknown region 'euu'; did you mean 'eu'?",
        ),
        (
            "  - {name: eu, servers: [eu-web]}",
            "  - {name: eu, servers: [eu-wbe]}",
            "s.yaml:14:16: regions.1.servers",
            "unknown server group 'eu-wbe'; did you mean 'eu-web'?",
        ),
        (
            "    eu: {us: 80ms, eu: 10ms}",
            "    eu: {us: 80ms, eu: 10ms, ap: 90ms}",
            "network.rtt.eu.ap",
            "unknown region 'ap'",
        ),
        (
            "  health_check: {interval: 10s}\n",
            "",
            "dns:",
            "the failover policy needs dns.health_check",
        ),
        ("{interval: 10s}", "{interval: 20s}", "dns.health_check.interval", "10s or 30s"),
        (
            "  policy: failover",
            "  policy: geolocation",
            "dns.records.0.role",
            "`role` is for the failover policy",
        ),
        (
            "  - {name: eu, servers: [eu-web]}",
            "  - {name: eu-web-1, servers: [eu-web]}",
            "regions.1.name",
            "'eu-web-1' is taken by a server",
        ),
        (
            "name: global\n",
            "name: global\nevents: [{at: 10s, target: eu, action: hang}]\n",
            "events",
            "a region (eu) can only crash and recover",
        ),
        (
            "name: global\n",
            "name: global\nevents: [{at: 10s, target: euro, action: crash}]\n",
            "events",
            "unknown target 'euro'",
        ),
    ],
)
def test_bad_regions_input(tmp_path: Path, old: str, new: str, where: str, message: str) -> None:
    assert old in GOOD
    code, err = validate(tmp_path, GOOD.replace(old, new))
    assert code == 2
    assert where in err and message in err, err


def test_a_geolocation_without_a_match_or_default_is_an_error(tmp_path: Path) -> None:
    text = GOOD.replace("policy: failover", "policy: geolocation").replace(
        "    - {region: us, role: primary}\n    - {region: eu, role: secondary}\n",
        "    - {region: us, country: US}\n",
    )
    code, err = validate(tmp_path, text)
    assert code == 2
    assert "clients.locations.1" in err and "matches no geolocation record" in err, err
