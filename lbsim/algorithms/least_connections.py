"""Least connections as HAProxy ``balance leastconn`` does it (``src/lb_fwlc.c``).

Key. A server sits in a tree under ``(inflight + 1) * SRV_EWGHT_MAX // eweight``
(integer division, ``inflight`` = the balancer's outstanding requests, which
count HAProxy's served and queued ones), or 0 when idle, so idle servers
always come first (``fwlc_queue_srv``). ``SRV_EWGHT_MAX = 256 * 16`` and
``eweight = 16 * weight``; while slow start keeps the host set's weights in
sixteenths (``weight_scale`` 16) they *are* HAProxy's ``eweight`` (16 ×
uweight × the slow-start step out of 16), so ramping never changes the
integer arithmetic of the keys.

Moves. Only the server whose key changed moves (``fwlc_srv_reposition``,
called when a server takes or drops a request; a server whose key is
unchanged keeps its place); a server that comes up, or whose weight
changes, is queued anew (``fwlc_set_server_status_up``,
``fwlc_update_server_weight``); one that goes down leaves.

Ties, by ``version``:

* ``"3.2"`` (default; HAProxy 3.2 and later): a tree node per key holds 4
  lists; a server is appended to a random one, and a pick looks at the
  heads of the lists of the smallest key, starting from a random list
  (``fwlc_get_next_server``): FIFO within a list, random across lists.
* ``"3.1"`` (HAProxy up to 3.1): one FIFO per key (``eb32_insert`` puts
  equal keys behind), which makes ties go round robin.

Retries (HAProxy's ``srvtoavoid`` on redispatch): servers in
``request.tried`` are passed over, each the way HAProxy passes over the
server to avoid (in 3.2 only list heads are looked at, so a node whose
heads are all tried is skipped whole); if nothing else is found, the last
server passed over is taken, as HAProxy returns ``avoided`` rather than none.
HAProxy avoids only the last server tried; lbsim avoids every tried one.

Cost: O(log n) per pick and per move (a heap of keys, lazy deletion in the
lists); a retry walks the tree, O(n log n).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar, Literal

from lbsim.algorithms.base import BaseAlgorithm, HostSet, Params, Request
from lbsim.algorithms.draws import Indices

if TYPE_CHECKING:
    import numpy as np

SRV_EWGHT_MAX = 256 * 16
BE_WEIGHT_SCALE = 16
FWLC_LISTS_NB = 4


class LeastConnectionsParams(Params):
    """``version``: the tie rule of HAProxy up to 3.1 (round robin) or from 3.2 (four lists)."""

    version: Literal["3.1", "3.2"] = "3.2"


class _Node:
    """The servers under one key: ``lists`` of (server, token), stale tokens
    skipped; kept when empty (``elements`` 0) so busy keys are not rebuilt."""

    __slots__ = ("elements", "in_heap", "lists", "stale")

    def __init__(self, count: int) -> None:
        self.lists: list[deque[tuple[int, int]]] = [deque() for _ in range(count)]
        self.elements = 0
        self.stale = 0  # entries left behind by servers that moved away
        self.in_heap = False


class LeastConnections(BaseAlgorithm):
    """Fewest outstanding requests per weight, idle first (HAProxy leastconn)."""

    name: ClassVar[str] = "least_connections"
    request_blind = True  # reads only ``tried``
    Params = LeastConnectionsParams

    def __init__(
        self, backends: HostSet, rng: np.random.Generator, params: LeastConnectionsParams
    ) -> None:
        super().__init__(backends, rng, params)
        self._lists = FWLC_LISTS_NB if params.version == "3.2" else 1
        self._indices = Indices(rng, FWLC_LISTS_NB)  # list numbers (3.2)
        self._draws = self._indices.block
        n = len(backends)
        self._key: list[int | None] = [None] * n  # None: not in the tree
        self._token = [0] * n  # the live entry of each server in its list
        self._weight = list(backends.weights)  # the weight each server was queued with
        self._nodes: dict[int, _Node] = {}
        self._keys: list[int] = []  # heap of the keys of nodes that may hold servers
        self._tokens = 0
        for host in backends.eligible():
            self._place(host, self.key(host))

    # ------------------------------------------------------------ the tree

    def _list_number(self) -> int:
        """The list a server is queued in, or a pick starts from (3.2: random)."""
        if self._lists == 1:
            return 0
        draws = self._draws
        return draws.pop() if draws else self._indices.next()

    def key(self, host: int) -> int:
        """HAProxy's ``fwlc_get_key`` for ``host`` now."""
        backends = self.backends
        inflight = backends.outstanding[host]
        if not inflight:
            return 0
        eweight = backends.weights[host] * BE_WEIGHT_SCALE // backends.weight_scale
        return (inflight + 1) * SRV_EWGHT_MAX // (eweight or 1)

    def _place(self, host: int, key: int | None) -> None:
        """Take ``host`` out of its node, if queued, and queue it under ``key``
        at the back of a list (None: leave it out of the tree)."""
        keys, tokens = self._key, self._token
        old = keys[host]
        keys[host] = key
        if key is None:
            tokens[host] = 0
        else:
            self._tokens = token = self._tokens + 1
            tokens[host] = token  # its entry under the old key is dead from now
        nodes = self._nodes
        if old is not None:
            left = nodes[old]
            left.elements -= 1
            left.stale += 1
            if left.stale > left.elements + 16:
                left.lists = [deque(e for e in lst if self._live(e)) for lst in left.lists]
                left.stale = 0
        if key is None:
            return
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = _Node(self._lists)
        if not node.in_heap:
            node.in_heap = True
            heapq.heappush(self._keys, key)
        draws = self._draws  # _list_number(), inlined: a move per send and per answer
        number = 0 if self._lists == 1 else (draws.pop() if draws else self._indices.next())
        node.lists[number].append((host, token))
        node.elements += 1
        self._weight[host] = self.backends.weights[host]

    def _live(self, entry: tuple[int, int]) -> bool:
        return self._token[entry[0]] == entry[1]

    def _head(self, node: _Node, lst: deque[tuple[int, int]]) -> int | None:
        token = self._token
        while lst and token[lst[0][0]] != lst[0][1]:
            lst.popleft()
            node.stale -= 1
        return lst[0][0] if lst else None

    def _reposition(self, host: int, latency: float = 0.0, status: int = 0) -> None:
        """``fwlc_srv_reposition``: move ``host`` if its key changed (on every
        send and answer, so the hot path: :meth:`key` is written out)."""
        old = self._key[host]
        if old is None:
            return
        backends = self.backends
        inflight = backends.outstanding[host]
        if inflight:
            eweight = backends.weights[host] * BE_WEIGHT_SCALE // backends.weight_scale
            key = (inflight + 1) * SRV_EWGHT_MAX // (eweight or 1)
        else:
            key = 0
        if key != old:
            self._place(host, key)

    # ------------------------------------------------------------ events

    def hosts_changed(self, hosts: Sequence[int] = ()) -> None:
        available, weights = self.backends.available, self.backends.weights
        for host in hosts:
            queued = self._key[host] is not None
            if available[host] and not queued:
                self._place(host, self.key(host))
            elif queued and not available[host]:
                self._place(host, None)
            elif queued and weights[host] != self._weight[host]:
                self._place(host, self.key(host))  # fwlc_update_server_weight: queued anew
            elif queued:
                self._reposition(host)

    on_send = _reposition  # a server takes a request, or drops one
    on_complete = _reposition

    # ------------------------------------------------------------ picks

    def _candidates(self, node: _Node) -> Iterator[int]:
        """The servers of ``node`` in the order HAProxy looks at them."""
        if self._lists == 1:  # 3.1: the whole FIFO
            yield from (e[0] for e in node.lists[0] if self._live(e))
            return
        start = self._list_number()
        unusable = 0
        i = 0
        while node.elements > unusable:  # 3.2: only list heads, wrapping round
            head = self._head(node, node.lists[(start + i) % FWLC_LISTS_NB])
            i += 1
            if head is not None:
                unusable += 1
                yield head

    def pick(self, request: Request) -> int | None:
        tried = request.tried
        if tried:
            return self._avoiding(tried)
        keys, nodes = self._keys, self._nodes
        while keys:  # the node of the smallest key that holds servers
            node = nodes[keys[0]]
            if node.elements:
                break
            node.in_heap = False
            heapq.heappop(keys)
        else:
            return None
        lists = node.lists
        count = self._lists
        if count == 1:  # _list_number() and _head(), written out: a pick per request
            start = 0
        else:
            draws = self._draws
            start = draws.pop() if draws else self._indices.next()
        token = self._token
        for i in range(count):  # the first non-empty list from a random one (3.2)
            lst = lists[(start + i) % count]
            while lst:
                host, live = lst[0]
                if token[host] == live:
                    return host
                lst.popleft()
                node.stale -= 1
        raise AssertionError("a node in the tree holds a server")

    def _avoiding(self, tried: Collection[int]) -> int | None:
        avoided = None
        for key in sorted(k for k, node in self._nodes.items() if node.elements):
            for host in self._candidates(self._nodes[key]):
                if host not in tried:
                    return host
                avoided = host
        return avoided
