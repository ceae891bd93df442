"""Slow start: a backend that comes back takes its full share gradually.

When the balancer marks a backend healthy again, its weight ramps up over
``window`` for the algorithms that honour weights (weighted round robin,
least connections, random, least response time, IP hash):

* ``envoy`` — ``w' = w · max(min_weight_percent/100, f^(1/aggression))``
  with ``f = max(elapsed, 1 ms) / window`` (Envoy slow start docs);
* ``haproxy`` — ``eweight = min(16, (16·elapsed + window) // window)``
  sixteenths of the weight, elapsed in whole seconds (``server.c``
  ``server_recalc_eweight``), recomputed at each health check in HAProxy;
* ``alb`` — linear from nothing to full over the window.

Weights are integers in lbsim (as in NGINX and HAProxy), so while slow start
is configured every weight is kept in sixteenths (``16 × weight``), which
leaves every ratio unchanged; ramped weights are rounded down, at least 1.
They are recomputed every ``window / 16`` (at most every second).
"""

from __future__ import annotations

import math

from simpy import Environment
from simpy.events import Timeout

from lbsim.engine.balancer import Balancer
from lbsim.engine.records import Recorder
from lbsim.scenario import SlowStart

SCALE = 16


def weight_factor(config: SlowStart, elapsed: float) -> float:
    """Share of its weight a backend has ``elapsed`` seconds into slow start."""
    if elapsed >= config.window:
        return 1.0
    if config.preset == "envoy":
        factor = max(elapsed, 0.001) / config.window
        return max(config.min_weight_percent / 100, factor ** (1 / config.aggression))
    if config.preset == "haproxy":
        return min(SCALE, (SCALE * math.floor(elapsed) + config.window) // config.window) / SCALE
    return elapsed / config.window


class SlowStarter:
    """Ramps the weights of one balancer's backends as they come back.

    It listens for recoveries; the backends it ramps are the balancer's
    ``ramping`` (a configured weight set meanwhile takes effect at the next
    step of the ramp).
    """

    def __init__(
        self, env: Environment, balancer: Balancer, config: SlowStart, recorder: Recorder
    ) -> None:
        self.env = env
        self.balancer = balancer
        self.config = config
        self.recorder = recorder
        self.since = balancer.ramping
        self.tick = min(1.0, config.window / SCALE)
        balancer.backends.weight_scale = SCALE
        balancer.backends.set_weights({b: w * SCALE for b, w in enumerate(balancer.weights)})
        balancer.recovery_listeners.append(self.start)

    def start(self, backend: int) -> None:
        if not self.since:
            Timeout(self.env, 0).callbacks.append(lambda _: self._update())
        self.since[backend] = self.env.now
        self.recorder.log(self.env.now, "slow_start", self.balancer.servers[backend].name)

    def _update(self) -> None:
        weights = {}
        for backend, since in list(self.since.items()):
            factor = weight_factor(self.config, self.env.now - since)
            weights[backend] = max(1, math.floor(self.balancer.weights[backend] * SCALE * factor))
            if factor >= 1:
                del self.since[backend]
        self.balancer.backends.set_weights(weights)
        if self.since:
            Timeout(self.env, self.tick).callbacks.append(lambda _: self._update())
