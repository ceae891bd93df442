"""Passive health checks: judging backends by the real traffic they answer.

The balancer reports every attempt's outcome (``observe``); a checker ejects
a backend (the balancer stops picking it) and returns it on its own rule:

* :class:`NginxFails` — NGINX ``max_fails``/``fail_timeout``
  (``ngx_http_upstream_round_robin.c``): failures are errors and timeouts
  (``proxy_next_upstream error timeout``, so 5xx answers do not count); at
  ``max_fails`` the peer is skipped until ``fail_timeout`` after its last
  failure; a success more than ``fail_timeout`` after the last failure clears
  the count (NGINX's ``accessed < checked`` rule). Simplified: float time,
  not NGINX's 1-second clock; no ``effective_weight`` reduction.
* :class:`HaproxyObserve` — HAProxy ``observe layer7``: ``error_limit``
  consecutive errors (connection errors, timeouts, 500/502/503/504) trigger
  ``on_error`` on the server's health-check counter.
* :class:`EnvoyOutlier` — Envoy outlier detection (``outlier.rst``), see
  :class:`lbsim.scenario.EnvoyOutlier` for the rules.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
from simpy import Environment
from simpy.events import Timeout

from lbsim.engine.balancer import Balancer
from lbsim.engine.health import Prober
from lbsim.engine.records import CONN_ERROR, OK, REJECTED, SERVER_ERROR, TIMEOUT, Recorder
from lbsim.scenario import EnvoyOutlier, HaproxyPassive, NginxPassive, PassiveCheck

GATEWAY_FAILURES = {CONN_ERROR, TIMEOUT, REJECTED}  # 502/503/504 and connect failures
ERRORS = GATEWAY_FAILURES | {SERVER_ERROR}


class _Checker(ABC):
    """Common ground of the passive checkers: outcomes in, ejections out."""

    def __init__(self, env: Environment, balancer: Balancer, recorder: Recorder) -> None:
        self.env = env
        self.balancer = balancer
        self.recorder = recorder
        self.names = [server.name for server in balancer.servers]
        balancer.outcome_listeners.append(self.observe)

    @abstractmethod
    def observe(self, backend: int, status: int) -> None:
        """One attempt to ``backend`` ended with ``status``."""

    def _eject(self, backend: int, why: str) -> None:
        self.recorder.log(self.env.now, "ejected", self.names[backend], why)
        self.balancer.set_ejected(backend, True)

    def _return(self, backend: int) -> None:
        self.recorder.log(self.env.now, "returned", self.names[backend])
        self.balancer.set_ejected(backend, False)

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        Timeout(self.env, delay).callbacks.append(lambda _: action())


class NginxFails(_Checker):
    """NGINX max_fails / fail_timeout (see module docstring)."""

    def __init__(
        self, env: Environment, balancer: Balancer, recorder: Recorder, config: NginxPassive
    ) -> None:
        super().__init__(env, balancer, recorder)
        self.config = config
        n = len(self.names)
        self.fails = [0] * n
        self.last_failure = [-math.inf] * n
        self.single = n < 2  # NGINX never disables the only server of an upstream

    def observe(self, backend: int, status: int) -> None:
        config = self.config
        now = self.env.now
        if status in (CONN_ERROR, TIMEOUT):
            self.fails[backend] += 1
            self.last_failure[backend] = now
            if self.fails[backend] >= config.max_fails and not self.single:
                if not self.balancer.ejected[backend]:
                    self._eject(backend, f"{self.fails[backend]} fails")
                self._at(config.fail_timeout, lambda: self._maybe_return(backend))
        elif status == OK and now - self.last_failure[backend] > config.fail_timeout:
            self.fails[backend] = 0

    def _maybe_return(self, backend: int) -> None:
        timeout = self.config.fail_timeout
        if self.balancer.ejected[backend] and self.env.now - self.last_failure[backend] >= timeout:
            self._return(backend)


class HaproxyObserve(_Checker):
    """HAProxy observe layer7 + error-limit + on-error (see module docstring)."""

    def __init__(
        self,
        env: Environment,
        balancer: Balancer,
        recorder: Recorder,
        config: HaproxyPassive,
        probers: list[Prober],
    ) -> None:
        super().__init__(env, balancer, recorder)
        self.config = config
        self.probers = probers
        self.errors = [0] * len(self.names)

    def observe(self, backend: int, status: int) -> None:
        if status not in ERRORS:
            self.errors[backend] = 0
            return
        self.errors[backend] += 1
        if self.errors[backend] < self.config.error_limit:
            return
        self.errors[backend] = 0
        prober = self.probers[backend]
        action = self.config.on_error
        self.recorder.log(self.env.now, "observe_error", self.names[backend], action)
        if action == "mark-down":
            prober.mark_down()
        elif action == "sudden-death":
            prober.sudden_death()
        else:
            prober.update(False)


class EnvoyOutlierDetector(_Checker):
    """Envoy outlier detection (see module docstring)."""

    def __init__(
        self,
        env: Environment,
        balancer: Balancer,
        recorder: Recorder,
        config: EnvoyOutlier,
        rng: np.random.Generator,
        active: Callable[[], bool],
    ) -> None:
        super().__init__(env, balancer, recorder)
        self.config = config
        self.rng = rng
        self.active = active
        n = len(self.names)
        self.consecutive_5xx = [0] * n
        self.consecutive_gateway = [0] * n
        self.multiplier = [0] * n  # "times ejected", decremented each healthy interval
        self.ejected_at = [0.0] * n
        self.successes = [0] * n
        self.requests = [0] * n
        self._at(config.interval, self._tick)

    def _enforced(self, percent: float) -> bool:
        return percent >= 100 or (percent > 0 and self.rng.random() * 100 < percent)

    def observe(self, backend: int, status: int) -> None:
        config = self.config
        self.requests[backend] += 1
        if status == OK:
            self.successes[backend] += 1
            self.consecutive_5xx[backend] = 0
            self.consecutive_gateway[backend] = 0
            return
        if status not in ERRORS:
            return
        self.consecutive_5xx[backend] += 1
        if status in GATEWAY_FAILURES:
            self.consecutive_gateway[backend] += 1
        if self.consecutive_5xx[backend] >= config.consecutive_5xx:
            self._try_eject(backend, "consecutive_5xx", 100.0)
        elif self.consecutive_gateway[backend] >= config.consecutive_gateway_failure:
            self._try_eject(
                backend, "consecutive_gateway_failure", config.enforcing_consecutive_gateway_failure
            )

    def _try_eject(self, backend: int, why: str, enforcing: float) -> None:
        self.consecutive_5xx[backend] = 0
        self.consecutive_gateway[backend] = 0
        if self.balancer.ejected[backend] or not self._enforced(enforcing):
            return
        ejected = sum(self.balancer.ejected)
        if ejected and 100 * (ejected + 1) / len(self.names) > self.config.max_ejection_percent:
            return  # over max_ejection_percent; but one host may always be ejected
        self.multiplier[backend] += 1
        self.ejected_at[backend] = self.env.now
        self._eject(backend, f"{why} (x{self.multiplier[backend]})")

    def ejection_time(self, backend: int) -> float:
        config = self.config
        cap = max(config.base_ejection_time, config.max_ejection_time)
        return min(config.base_ejection_time * self.multiplier[backend], cap)

    def _tick(self) -> None:
        config = self.config
        now = self.env.now
        for backend in range(len(self.names)):
            if self.balancer.ejected[backend]:
                if now >= self.ejected_at[backend] + self.ejection_time(backend):
                    self._return(backend)
            elif self.multiplier[backend] > 0:
                self.multiplier[backend] -= 1
        self._statistics()
        self.successes = [0] * len(self.names)
        self.requests = [0] * len(self.names)
        if self.active():
            self._at(config.interval, self._tick)

    def _statistics(self) -> None:
        config = self.config
        volume = np.array(self.requests)
        rate = 100 * np.array(self.successes) / np.maximum(volume, 1)
        enough = volume >= config.success_rate_request_volume
        if enough.sum() >= config.success_rate_minimum_hosts:
            mean, stdev = rate[enough].mean(), rate[enough].std()
            limit = mean - config.success_rate_stdev_factor * stdev
            for backend in np.flatnonzero(enough & (rate < limit)):
                self._try_eject(int(backend), "success_rate", config.enforcing_success_rate)
        enough = volume >= config.failure_percentage_request_volume
        if enough.sum() >= config.failure_percentage_minimum_hosts:
            failing = enough & (100 - rate >= config.failure_percentage_threshold)
            for backend in np.flatnonzero(failing):
                self._try_eject(
                    int(backend), "failure_percentage", config.enforcing_failure_percentage
                )


def passive_checker(
    config: PassiveCheck,
    env: Environment,
    balancer: Balancer,
    recorder: Recorder,
    probers: list[Prober],
    rng: np.random.Generator,
    active: Callable[[], bool],
) -> _Checker:
    """The checker of ``config``'s preset, attached to ``balancer``."""
    if isinstance(config, NginxPassive):
        return NginxFails(env, balancer, recorder, config)
    if isinstance(config, HaproxyPassive):
        return HaproxyObserve(env, balancer, recorder, config, probers)
    return EnvoyOutlierDetector(env, balancer, recorder, config, rng, active)
