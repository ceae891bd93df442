"""Helpers shared by the hashing policies: xxHash64, key text, Envoy weights.

Hash keys are ints (:attr:`Request.hash_key`); a proxy hashes them as text.
An IPv4 address (a key below ``2**32``) is rendered as the dotted quad a proxy
sees in ``$remote_addr`` (NGINX) or ``addressAsString()`` (Envoy's
``source_ip`` hash policy), e.g. ``b"10.1.2.3"``; any larger key (a header or
cookie hash of a later route policy) as its decimal digits.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_MASK64 = (1 << 64) - 1
_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK64


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * _P2) & _MASK64
    return (_rotl(acc, 31) * _P1) & _MASK64


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of ``data`` (the 64-bit xxHash that Envoy's ``HashUtil::xxHash64`` calls)."""
    n = len(data)
    p = 0
    if n >= 32:
        v1 = (seed + _P1 + _P2) & _MASK64
        v2 = (seed + _P2) & _MASK64
        v3 = seed & _MASK64
        v4 = (seed - _P1) & _MASK64
        while p + 32 <= n:
            a, b, c, d = struct.unpack_from("<4Q", data, p)
            v1, v2, v3, v4 = _round(v1, a), _round(v2, b), _round(v3, c), _round(v4, d)
            p += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _MASK64
        for v in (v1, v2, v3, v4):
            h = ((h ^ _round(0, v)) * _P1 + _P4) & _MASK64
    else:
        h = (seed + _P5) & _MASK64
    h = (h + n) & _MASK64
    while p + 8 <= n:
        (lane,) = struct.unpack_from("<Q", data, p)
        h = (_rotl(h ^ _round(0, lane), 27) * _P1 + _P4) & _MASK64
        p += 8
    if p + 4 <= n:
        (lane,) = struct.unpack_from("<I", data, p)
        h = (_rotl(h ^ ((lane * _P1) & _MASK64), 23) * _P2 + _P3) & _MASK64
        p += 4
    while p < n:
        h = (_rotl(h ^ ((data[p] * _P5) & _MASK64), 11) * _P1) & _MASK64
        p += 1
    h = ((h ^ (h >> 33)) * _P2) & _MASK64
    h = ((h ^ (h >> 29)) * _P3) & _MASK64
    return h ^ (h >> 32)


def key_text(key: int) -> bytes:
    """The text a proxy hashes for ``key``: dotted quad below ``2**32``, else decimal."""
    if 0 <= key < 1 << 32:
        return f"{key >> 24 & 255}.{key >> 16 & 255}.{key >> 8 & 255}.{key & 255}".encode()
    return str(key).encode()


def normalized_weights(weights: Sequence[int]) -> list[float]:
    """Envoy ``normalizeHostWeights`` (thread_aware_lb_impl.cc): ``weight / sum`` in doubles."""
    total = sum(weights)
    return [weight * 1.0 / total for weight in weights]


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True
