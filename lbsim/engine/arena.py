"""Per-request columns whose memory a run gives back as it goes.

A windowed run (:mod:`lbsim.engine.windows`) allocates its per-request
columns here instead of with ``np.full``. Each column is an anonymous private
memory map as long as the whole run: address space, not memory, until it is
written. A window's requests get their fill values just before they are
drawn (:meth:`Arena.prepare`); once every request of a window is over and
folded into the summary, :meth:`Arena.release` hands the column pages that
hold only such requests back to the operating system
(``madvise(MADV_DONTNEED)``), so the resident memory of a run is that of the
windows in flight, whatever its length. A page given back reads as zeros
(status 0, not in flight, attempt 0), or as it was where ``madvise`` only
hints: either way what the engine's checks of an answered request expect,
and nothing writes to an answered request. Without ``madvise`` (Windows)
nothing is given back.
"""

from __future__ import annotations

import mmap

import numpy as np

CAN_RELEASE = hasattr(mmap, "MADV_DONTNEED") and hasattr(mmap, "MAP_PRIVATE")


class Arena:
    """Columns of ``capacity`` requests, filled and given back by ranges of request ids."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._columns: list[tuple[np.ndarray, float]] = []
        self._maps: list[tuple[mmap.mmap, int, int]] = []  # (map, item size, bytes given back)
        self.prepared = 0  # ids below this have their fill values
        self.released = 0  # ids below this are given back (their whole pages)

    def full(self, shape: int, fill_value: float, dtype: type | str | np.dtype) -> np.ndarray:
        """A column of the arena (``np.full``'s signature; ``shape`` is its capacity).
        Its items get ``fill_value`` by :meth:`prepare`, range by range."""
        assert shape == self.capacity, "an arena column holds every request of the run"
        kind = np.dtype(dtype)
        size = max(1, shape * kind.itemsize)
        if CAN_RELEASE:
            memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            array = np.frombuffer(memory, dtype=kind, count=shape)
            self._maps.append((memory, kind.itemsize, 0))
        else:
            array = np.zeros(shape, dtype=kind)
        if fill_value != 0:
            self._columns.append((array, fill_value))
        return array

    def flags(self, shape: int) -> memoryview:
        """A column of zero bytes indexed as ints (``RequestState.inflight``)."""
        view: memoryview = self.full(shape, 0, np.uint8).data
        return view

    def prepare(self, hi: int) -> None:
        """Give the ids from :attr:`prepared` up to ``hi`` their fill values."""
        lo = self.prepared
        for array, fill in self._columns:
            array[lo:hi] = fill
        self.prepared = max(lo, hi)

    def release(self, hi: int) -> None:
        """Give back the pages of every column that hold only ids below ``hi``."""
        self.released = max(self.released, hi)
        page = mmap.PAGESIZE
        for index, (memory, itemsize, done) in enumerate(self._maps):
            end = hi * itemsize // page * page
            if end > done:
                memory.madvise(mmap.MADV_DONTNEED, done, end - done)
                self._maps[index] = (memory, itemsize, end)
