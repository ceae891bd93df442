"""Requests that are several calls: hedged and fan-out requests.

Both are expanded on the client side, before the run, into a workload of
*calls*, each an ordinary request to the balancer (its own timeouts,
retries and record): a fan-out request of ``leaves`` calls arriving
together, a hedged one into its first call and a backup call due ``after``
later (sent only if still needed, see :mod:`lbsim.engine.hedging`). The
first call of every request keeps the request's own service demand, and the
extra calls draw theirs from their own stream, so a variant without the
pattern sees the same first calls (common random numbers). After the run
:meth:`Calls.collapse` turns the call records back into one record per
request: a hedged request is its first ``ok`` call (else its first call), a
fan-out request ends when its ``quorum``-th leaf answers ``ok`` and takes
that leaf's record (else the first leaf that failed), and ``extra`` counts
the calls sent beyond one per request — the extra load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lbsim.engine.records import OK, Recorder
from lbsim.engine.workload import Workload
from lbsim.scenario import Scenario
from lbsim.streams import stream


@dataclass(frozen=True)
class Calls:
    """The calls of a workload whose requests are hedged or fanned out."""

    requests: Workload  # one row per request
    workload: Workload  # one row per call, in arrival order
    request: np.ndarray  # int64: the request of each call
    backup: np.ndarray  # bool: a hedge's backup call (else a first call or a leaf)
    sibling: np.ndarray  # int64: the other call of a hedged pair (-1: a leaf)
    leaves: int  # calls per fan-out request (0: hedged)
    quorum: int  # ok leaves a fan-out request needs

    def collapse(self, rec: Recorder, dispatched: np.ndarray | None) -> Recorder:
        """One record per request from the call records (module docstring);
        ``dispatched`` says which calls of a hedged workload were sent."""
        n = len(self.requests)
        if self.leaves:
            chosen = self._needed_leaf(rec)
            extra = np.full(n, self.leaves - 1, dtype=np.int32)
        else:
            chosen = self._winner(rec)
            assert dispatched is not None
            sent = self.request[dispatched & self.backup]
            extra = np.bincount(sent, minlength=n).astype(np.int32)
        out = Recorder(n, rec.n_servers, optional=rec.optional)
        for name, values in rec.columns.items():
            out.columns[name][:] = values[chosen]
        out.extra = extra
        for name in ("busy_area", "queue_area", "queue_peak", "abandoned"):
            setattr(out, name, getattr(rec, name))
        for name in ("lb_busy_area", "lb_queue_area", "lb_queue_peak"):  # balancer CPUs
            setattr(out, name, getattr(rec, name))
        out.sample_times, out.samples = rec.sample_times, rec.samples
        out.balancer_samples, out.events = rec.balancer_samples, rec.events
        return out

    def _winner(self, rec: Recorder) -> np.ndarray:
        """Each hedged request's first ok call, else its first call."""
        first = np.flatnonzero(~self.backup)
        first = first[np.argsort(self.request[first], kind="stable")]  # by request
        backup = self.sibling[first]
        status, end = rec.status, rec.end
        backup_wins = (status[backup] == OK) & ((status[first] != OK) | (end[backup] < end[first]))
        return np.where(backup_wins, backup, first)

    def _needed_leaf(self, rec: Recorder) -> np.ndarray:
        """Each fan-out request's quorum-th ok leaf, else its first failed leaf."""
        leaves = self.leaves
        ok = (rec.status == OK).reshape(-1, leaves)
        ends = np.where(ok, rec.end.reshape(-1, leaves), np.inf)
        needed = np.argsort(ends, axis=1, kind="stable")[:, self.quorum - 1]
        answered = ok.sum(axis=1) >= self.quorum
        leaf = np.where(answered, needed, np.argmin(ok, axis=1))
        return np.arange(len(leaf)) * leaves + leaf


def expand(scenario: Scenario, requests: Workload) -> Calls | None:
    """The calls of ``requests`` when the clients hedge or fan out, else None."""
    clients = scenario.clients
    n = len(requests)
    if clients.fanout is not None:
        leaves = clients.fanout.leaves
        demand = np.empty((n, leaves))
        demand[:, 0] = requests.demand
        kinds = requests.request_class
        extra_kinds = None if kinds is None else np.repeat(kinds, leaves - 1)
        extra = _extra_demands(scenario, n * (leaves - 1), extra_kinds, "fanout-demand")
        demand[:, 1:] = extra.reshape(n, leaves - 1)
        calls = Workload(
            np.repeat(requests.arrival, leaves),
            np.repeat(requests.client, leaves),
            demand.reshape(-1),
            requests.client_ips,
            None if kinds is None else np.repeat(kinds, leaves),
        )
        request = np.repeat(np.arange(n, dtype=np.int64), leaves)
        none = np.zeros(n * leaves, dtype=bool)
        sibling = np.full(n * leaves, -1)
        return Calls(requests, calls, request, none, sibling, leaves, clients.fanout.needed)
    if clients.hedge is None:
        return None
    kinds = requests.request_class
    extra = _extra_demands(scenario, n, kinds, "hedge-demand")
    arrival = np.concatenate([requests.arrival, requests.arrival + clients.hedge.after])
    order = np.argsort(arrival, kind="stable")  # first calls before backups at equal times
    position = np.empty(2 * n, dtype=np.int64)
    position[order] = np.arange(2 * n)
    sibling = np.concatenate([position[n:], position[:n]])[order]
    calls = Workload(
        arrival[order],
        np.concatenate([requests.client, requests.client])[order],
        np.concatenate([requests.demand, extra])[order].astype(np.float64),
        requests.client_ips,
        None if kinds is None else np.concatenate([kinds, kinds])[order],
    )
    request = np.concatenate([np.arange(n), np.arange(n)])[order]
    backup = np.repeat([False, True], n)[order]
    return Calls(requests, calls, request, backup, sibling, 0, 1)


def _extra_demands(scenario: Scenario, n: int, kinds: np.ndarray | None, name: str) -> np.ndarray:
    """Service demands of ``n`` extra calls of classes ``kinds`` (None: no
    mix), from stream ``name``; a class with its own service distribution
    draws its calls' from a stream of its own (as its requests do)."""
    clients = scenario.clients
    demand = clients.service.sample(stream(scenario.seed, name), n)
    for index, kind in enumerate(clients.mix or ()):
        if kind.service is not None and kinds is not None:
            chosen = kinds == index
            own = stream(scenario.seed, f"{name}/{kind.name}")
            demand[chosen] = kind.service.sample(own, int(chosen.sum()))
    return demand
