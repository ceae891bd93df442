"""Uniform draws for the hot path: one generator's stream, fetched in blocks.

Drawing one numpy scalar at a time costs more than the rest of a pick, so
policies and the engine take their draws from these, in blocks, with the
same values in the same order as one draw at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class Uniforms:
    """Uniform [0, 1) draws from one generator, fetched in blocks.

    Drawing one numpy scalar at a time costs more than the rest of a pick;
    blocks keep the same stream (so results stay reproducible) at a fraction
    of the cost. ``block`` holds the draws to come, the next one last; it is
    refilled in place, so a hot caller may keep it and take
    ``block.pop() if block else uniforms.next()``: the same draw as
    :meth:`next`, without the call.
    """

    __slots__ = ("_rng", "_size", "block")

    def __init__(self, rng: np.random.Generator, block: int = 4096) -> None:
        self._rng = rng
        self._size = block
        self.block: list[float] = []

    def next(self) -> float:
        block = self.block
        if not block:
            block.extend(self._rng.random(self._size)[::-1].tolist())
        return block.pop()


class Indices:
    """Uniform draws from one generator as indices ``int(u * n)`` into ``n``
    choices: the draws of :class:`Uniforms` (the same stream and values),
    converted a block at a time.

    ``block`` holds the indices to come, the next one last, refilled in
    place: a hot caller takes ``block.pop() if block else indices.next()``.
    :meth:`resize` sets ``n`` for the draws to come (the block is converted
    anew); :meth:`uniform` takes the next draw as the uniform itself, for a
    choice among some other number.
    """

    __slots__ = ("_n", "_raw", "_rng", "_size", "block")

    def __init__(self, rng: np.random.Generator, n: int, block: int = 4096) -> None:
        self._rng = rng
        self._size = block
        self._n = n
        import numpy as np  # at run time only: validating a scenario loads no numpy

        self._raw = np.empty(0)  # the uniforms of the block being drawn
        self.block: list[int] = []

    def _indices(self, uniforms: np.ndarray) -> list[int]:
        """``int(u * n)`` of each, in pop order (last first)."""
        indices: list[int] = (uniforms * self._n).astype("int64")[::-1].tolist()
        return indices

    def _refill(self) -> None:
        self._raw = self._rng.random(self._size)
        self.block.extend(self._indices(self._raw))

    def next(self) -> int:
        if not self.block:
            self._refill()
        return self.block.pop()

    def uniform(self) -> float:
        block = self.block
        if not block:
            self._refill()
        u = float(self._raw[len(self._raw) - len(block)])
        block.pop()
        return u

    def resize(self, n: int) -> None:
        if n != self._n:
            self._n = n
            left = len(self.block)
            self.block[:] = self._indices(self._raw[len(self._raw) - left :])
