"""Named random streams: one independent generator per purpose.

Every stream derives from the scenario seed through ``numpy.random.SeedSequence``
with a spawn key computed from the purpose's name (CRC-32 of the text), so a
stream does not depend on which other streams exist or in which order they are
asked for: adding health-check jitter to a scenario does not change its
arrivals. Arrivals, request attributes and service demands are drawn from
client-side streams, identical in every variant (common random numbers).
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, purpose: str) -> np.random.Generator:
    """The generator for ``purpose`` (e.g. ``"arrivals"``, ``"algorithm"``)."""
    key = zlib.crc32(purpose.encode())
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Seeds of independent replications derived from a scenario seed."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(child.generate_state(1, np.uint64)[0] >> np.uint64(1)) for child in children]
