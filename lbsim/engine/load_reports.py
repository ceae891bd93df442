"""What some policies need from the world beyond the balancer's own view.

One call, :func:`attach`, made once the balancers are built, gives each
instance's algorithm what it declares it needs, and nothing to the others
(no cost on the hot path of a policy that needs none):

* a :class:`~lbsim.algorithms.policies.Clocked` policy gets ``clock``, the
  simulated time;
* the instances of a :class:`~lbsim.algorithms.policies.Peered` policy are
  introduced to each other (``join_peers``, once per policy);
* a :class:`~lbsim.algorithms.policies.Periodic` policy has its ``tick``
  called every ``period`` seconds while the run is active (one timeout per
  period and policy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from simpy import Environment
from simpy.events import Timeout

from lbsim.algorithms.policies import Clocked, Peered, Periodic
from lbsim.engine.balancer import Balancer


def attach(env: Environment, balancers: Sequence[Balancer], active: Callable[[], bool]) -> None:
    """Connect the algorithm of each of ``balancers`` to the world of ``env``
    (``active``: whether requests are still to come or in flight)."""
    peered: dict[type, list[Peered]] = {}
    for balancer in balancers:
        algorithm = balancer.algorithm
        if isinstance(algorithm, Clocked):
            algorithm.clock = lambda: env.now
        if isinstance(algorithm, Peered):
            peered.setdefault(type(algorithm), []).append(algorithm)
        if isinstance(algorithm, Periodic):
            _every(env, algorithm, active)
    for group in peered.values():
        group[0].join_peers(group)


def _every(env: Environment, policy: Periodic, active: Callable[[], bool]) -> None:
    def tick(event: Timeout) -> None:
        policy.tick()
        if active():
            Timeout(env, policy.period).callbacks.append(tick)

    Timeout(env, policy.period).callbacks.append(tick)
