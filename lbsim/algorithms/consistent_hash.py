"""``consistent_hash``: the v1 name, kept as an alias.

``method: ring`` (the default, as before) builds :class:`~lbsim.algorithms.ketama.Ketama`
(NGINX ``hash consistent``) with ``vnodes``; ``method: maglev`` builds
:class:`~lbsim.algorithms.maglev.Maglev` (Envoy) with ``table_size``. The
parameters are those of v1, so scenarios written for it load and simulate
as before. Envoy's ring hash is :mod:`ring_hash <lbsim.algorithms.ring_hash>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from lbsim.algorithms import base
from lbsim.algorithms.base import BaseAlgorithm, HostSet
from lbsim.algorithms.ketama import Ketama, KetamaParams
from lbsim.algorithms.maglev import Maglev, MaglevParams

if TYPE_CHECKING:
    import numpy as np


class ConsistentHashParams(KetamaParams, MaglevParams):
    method: Literal["ring", "maglev"] = Field(
        default="ring", description="ring: NGINX hash consistent (ketama); maglev: Envoy Maglev"
    )


class ConsistentHash:
    """Alias: NGINX ketama (method: ring, default) or Envoy Maglev (method: maglev)."""

    Params = ConsistentHashParams

    def __call__(
        self, backends: HostSet, rng: np.random.Generator, params: base.Params
    ) -> BaseAlgorithm:
        assert isinstance(params, ConsistentHashParams)
        if params.method == "maglev":
            return Maglev(backends, rng, MaglevParams(table_size=params.table_size))
        return Ketama(backends, rng, KetamaParams(vnodes=params.vnodes))


consistent_hash = ConsistentHash()
