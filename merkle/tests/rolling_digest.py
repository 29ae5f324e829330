#!/usr/bin/env python3
"""Independent RFC 9162 transcription (hashlib only) that prints the rolling digest pinned in
reference.rs: every inclusion proof for every (index, size), size <= 256, and every consistency
proof for every (size1, size2), size2 <= 256, hashed in order. Leaf i's input is i as a
big-endian u64. Run: python3 merkle/tests/rolling_digest.py"""
import hashlib
from functools import lru_cache

N = 256
H = lambda *parts: hashlib.sha256(b"".join(parts)).digest()
LEAVES = [H(b"\x00", i.to_bytes(8, "big")) for i in range(N)]


def k_of(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@lru_cache(maxsize=None)
def mth(lo, hi):
    if hi - lo == 1:
        return LEAVES[lo]
    k = k_of(hi - lo)
    return H(b"\x01", mth(lo, lo + k), mth(lo + k, hi))


def path(m, lo, hi):
    if hi - lo <= 1:
        return []
    k = k_of(hi - lo)
    if m < k:
        return path(m, lo, lo + k) + [mth(lo + k, hi)]
    return path(m - k, lo + k, hi) + [mth(lo, lo + k)]


def subproof(m, lo, hi, b):
    if m == hi - lo:
        return [] if b else [mth(lo, hi)]
    k = k_of(hi - lo)
    if m <= k:
        return subproof(m, lo, lo + k, b) + [mth(lo + k, hi)]
    return subproof(m - k, lo + k, hi, False) + [mth(lo, lo + k)]


rolling = hashlib.sha256()
for size in range(1, N + 1):
    for index in range(size):
        rolling.update(index.to_bytes(8, "big") + size.to_bytes(8, "big"))
        for h in path(index, 0, size):
            rolling.update(h)
    for old in range(1, size + 1):
        rolling.update(old.to_bytes(8, "big") + size.to_bytes(8, "big"))
        for h in subproof(old, 0, size, True):
            rolling.update(h)
print(rolling.hexdigest())
