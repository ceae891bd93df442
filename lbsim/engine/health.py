"""Active health checks: the balancer probes each backend on a schedule.

Each backend has its own prober. A probe is sent; it fails after ``timeout``
if the server is down or hung, fails at once if the server answers it with a
5xx (its ``error_rate``), and otherwise succeeds — at once when answered out
of band, or when served if ``through_queue`` (then it waits behind requests
like one, and an overloaded server fails its checks: the seed of cascading
failures). The next probe goes out ``interval`` (plus jitter) after the
result, as HAProxy and Envoy re-arm their check timers.

Counting rules (``preset``):

* ``haproxy`` — the health counter of ``src/check.c``: ``h`` in
  ``[0, rise+fall-1]``, UP iff ``h >= rise``; a failure does ``h -= 1`` and
  drops to 0 below ``rise``; a success does ``h += 1`` and jumps to
  ``rise+fall-1`` at ``rise``. It starts at ``h = rise`` (``server.c``), so
  a server that fails its first check goes down at once; from fully up it
  takes ``fall`` failures, from down ``rise`` successes. First checks are
  spread over one interval.
* ``envoy`` / ``alb`` — consecutive counts: ``unhealthy_threshold`` failures
  in a row mark a healthy backend down, ``healthy_threshold`` successes mark
  it up again; a new backend starts unhealthy and one success suffices
  (Envoy ``health_check.proto``; ALB: a new target must pass one check).
  First checks go out at time 0 (Envoy: within ``initial_jitter``); Envoy
  checks every ``no_traffic_interval`` until its balancer has sent a request,
  and uses its edge and unhealthy intervals after and between transitions.
"""

from __future__ import annotations

from collections.abc import Callable

from lbsim.engine.balancer import Balancer
from lbsim.engine.loop import Loop, Timers
from lbsim.engine.records import Recorder
from lbsim.engine.servers import ERROR_RESPONSE_TIME, Server
from lbsim.scenario import HealthCheck
from lbsim.streams import stream


def haproxy_counter(h: int, ok: bool, rise: int, fall: int) -> int:
    """One step of HAProxy's health counter (``src/check.c``); UP iff ``h >= rise``."""
    if ok:
        return rise + fall - 1 if h + 1 >= rise else h + 1
    return 0 if h - 1 < rise else h - 1


def consecutive(
    healthy: bool, count: int, ok: bool, rise: int, fall: int, ever_healthy: bool
) -> tuple[bool, int]:
    """One step of consecutive counting (Envoy, ALB): ``(healthy, count)`` after a
    probe; ``count`` is the run of results contradicting the current state."""
    if ok == healthy:
        return healthy, 0
    count += 1
    needed = fall if healthy else (rise if ever_healthy else 1)
    return (ok, 0) if count >= needed else (healthy, count)


class Prober:
    """The health checks of one backend by one balancer."""

    __slots__ = (
        "_steady",
        "active",
        "balancer",
        "config",
        "counter",
        "env",
        "ever_healthy",
        "haproxy",
        "healthy",
        "number",
        "recorder",
        "rng",
        "server",
        "stopped",
        "timers",
        "top",
    )

    def __init__(
        self,
        env: Loop,
        server: Server,
        balancer: Balancer,
        config: HealthCheck,
        recorder: Recorder,
        seed: int,
        active: Callable[[], bool],
        timers: ProbeTimers | None = None,
        generation: int = 0,
    ) -> None:
        self.env = env
        # without jitter the next probe waits one of a few intervals: the
        # probers of a world share one timer list per interval (loop.Timers)
        self.timers = timers if timers is not None and not config.jitter else None
        self.number = self.timers.join(self) if self.timers is not None else -1
        self.stopped = False  # an autoscaled instance was deregistered
        self.active = active  # probing stops when the run has nothing left to do
        self.server = server
        self.balancer = balancer
        self.config = config
        self.recorder = recorder
        suffix = f"#{generation}" if generation else ""  # a relaunched instance
        self.rng = stream(seed, f"health/{balancer.index}/{server.name}{suffix}")
        self.haproxy = config.preset == "haproxy"
        top = config.rise + config.fall - 1
        # HAProxy h (init-state, server.c) / the run of results against the state
        self.counter = (
            {"fully-up": top, "up": config.rise, "down": config.rise - 1, "fully-down": 0}[
                config.initial_state
            ]
            if self.haproxy
            else 0
        )
        self.healthy = self.haproxy and self.counter >= config.rise
        self.top = top  # HAProxy's fully up
        # HAProxy, no jitter: a passed check at fully up changes nothing, and
        # the next waits one period in this list (the common case, see _probe)
        self._steady = (
            self.timers.list(config.period) if self.haproxy and self.timers is not None else None
        )
        self.ever_healthy = self.healthy  # the balancer learns it from the world, all at once
        if self.haproxy:  # spread-checks: first checks spread over one interval
            first = float(self.rng.uniform(0, config.period))
        else:
            first = (
                float(self.rng.uniform(0, config.initial_jitter)) if config.initial_jitter else 0.0
            )
        self.env.after(first, self._probe)

    def stop(self) -> None:
        """Probe no more (the instance was deregistered)."""
        self.stopped = True

    def _probe(self, _: object = None) -> None:
        """Send one probe. Its result comes as a light event (``env.after``:
        the time and sequence number a Timeout would have had), or at once."""
        if self.stopped:
            return
        server, config = self.server, self.config
        if not server.up or server.hung:
            self.env.after(config.limit, self._record, False)
        elif config.through_queue:  # the server answers it like a request
            state = {"done": False}

            def result(ok: bool) -> None:
                if not state["done"]:
                    state["done"] = True
                    self._record(ok)

            server.probe(config.probe_demand, result)
            self.env.after(config.limit, result, False)
        elif server.error_rate and self.rng.random() < server.error_rate:
            self.env.after(ERROR_RESPONSE_TIME, self._record, False)
        elif self._steady is not None and self.counter == self.top:
            if self.active():  # _record(True), written out: the counter stays at the top
                self._steady.add(self.number)
        else:
            self._record(True)

    def _record(self, ok: bool) -> None:
        if self.stopped:
            return
        changed = self.update(ok)
        jitter = float(self.rng.uniform(0, self.config.jitter)) if self.config.jitter else 0.0
        if self.active():
            delay = self._interval(changed) * (1 + jitter)
            if self.timers is None:
                self.env.after(delay, self._probe)
                return
            self.timers.add(delay, self.number)

    def _interval(self, changed: bool) -> float:
        """The wait before the next probe, by state (HAProxy, Envoy rules)."""
        config = self.config
        if self.haproxy:
            if self.counter == 0:
                return config.downinter or config.period
            if self.counter != config.rise + config.fall - 1:
                return config.fastinter or config.period  # in transition
            return config.period
        if config.preset == "envoy":
            if not self.balancer.traffic_seen and config.no_traffic_interval is not None:
                return config.no_traffic_interval
            edge = config.healthy_edge_interval if self.healthy else config.unhealthy_edge_interval
            if changed and edge is not None:
                return edge
            if not self.healthy and config.unhealthy_interval is not None:
                return config.unhealthy_interval
        return config.period

    def sudden_death(self) -> None:
        """HAProxy ``on-error sudden-death``: one more failed check marks it down."""
        if self.counter >= self.config.rise:
            self.counter = self.config.rise

    def mark_down(self) -> None:
        """HAProxy ``on-error mark-down``."""
        self.counter = 1
        self.update(False)  # from h = 1, one failure drops to 0: DOWN

    def update(self, ok: bool) -> bool:
        """Count one check result (from a probe, or from real traffic); True
        if the backend changed state."""
        config = self.config
        if self.haproxy:
            self.counter = haproxy_counter(self.counter, ok, config.rise, config.fall)
            healthy = self.counter >= config.rise
        else:
            healthy, self.counter = consecutive(
                self.healthy, self.counter, ok, config.rise, config.fall, self.ever_healthy
            )
        if healthy != self.healthy:
            self.healthy = healthy
            self.ever_healthy = self.ever_healthy or healthy
            kind = "marked_up" if healthy else "marked_down"
            self.recorder.log(
                self.env.now, kind, self.server.name, f"balancer {self.balancer.index}"
            )
            self.balancer.set_health(self.server.index, healthy)
            return True
        return False


class ProbeTimers:
    """The probers of a world, and their shared timer lists, one per
    interval (:class:`~lbsim.engine.loop.Timers`; a deadline's value is the
    number of its prober)."""

    def __init__(self, env: Loop) -> None:
        self.env = env
        self.probers: list[Prober] = []
        self._lists: dict[float, Timers] = {}

    def join(self, prober: Prober) -> int:
        """``prober``'s number."""
        self.probers.append(prober)
        return len(self.probers) - 1

    def add(self, delay: float, number: int) -> None:
        """Prober ``number`` sends its next probe ``delay`` seconds from now."""
        self.list(delay).add(number)

    def list(self, delay: float) -> Timers:
        """The timer list of ``delay`` (made on first use)."""
        timers = self._lists.get(delay)
        if timers is None:
            timers = self._lists[delay] = Timers(self.env, delay, self._due)
        return timers

    def _due(self, number: int) -> None:
        self.probers[number]._probe()
