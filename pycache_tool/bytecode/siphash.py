"""SipHash-c-d with k1 = 0, the keyed hash that PEP 552 hash-based pycs store.

CPython 3.7-3.10 and PyPy use SipHash-2-4, CPython 3.11+ SipHash-1-3; the key is the
interpreter's own 4-byte magic read little-endian. The running interpreter's
``_imp.source_hash`` covers its own family; this module covers the other one.
"""

from __future__ import annotations

_MASK = 0xFFFFFFFFFFFFFFFF


def siphash(key: int, data: bytes, c_rounds: int, d_rounds: int) -> bytes:
    """Return the 8-byte little-endian SipHash-c-d of ``data`` with k0 = ``key``, k1 = 0."""
    k0, k1 = key & _MASK, 0
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(n: int) -> None:
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & _MASK
            v1 = ((v1 << 13) | (v1 >> 51)) & _MASK
            v1 ^= v0
            v0 = ((v0 << 32) | (v0 >> 32)) & _MASK
            v2 = (v2 + v3) & _MASK
            v3 = ((v3 << 16) | (v3 >> 48)) & _MASK
            v3 ^= v2
            v0 = (v0 + v3) & _MASK
            v3 = ((v3 << 21) | (v3 >> 43)) & _MASK
            v3 ^= v0
            v2 = (v2 + v1) & _MASK
            v1 = ((v1 << 17) | (v1 >> 47)) & _MASK
            v1 ^= v2
            v2 = ((v2 << 32) | (v2 >> 32)) & _MASK

    length = len(data)
    tail_start = length - length % 8
    from_bytes = int.from_bytes
    for offset in range(0, tail_start, 8):
        m = from_bytes(data[offset : offset + 8], "little")
        v3 ^= m
        rounds(c_rounds)
        v0 ^= m
    last = ((length & 0xFF) << 56) | from_bytes(data[tail_start:], "little")
    v3 ^= last
    rounds(c_rounds)
    v0 ^= last
    v2 ^= 0xFF
    rounds(d_rounds)
    return ((v0 ^ v1 ^ v2 ^ v3) & _MASK).to_bytes(8, "little")
