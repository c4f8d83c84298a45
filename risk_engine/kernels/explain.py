"""Reasons for a premium change: which contributions grew most, robot by robot, without loops.

A log-link plan makes ``log(premium)`` the sum of its contributions, so the change in log premium
is exactly the sum of the changes in contributions; the largest increases are the reasons an
adverse-action notice must give.

The selection packs each change and its column into one int64 key (the change to 2**-40, about
1e-12, in the high bits; the column, inverted so that the first column wins a tie, in the low six)
and runs an insertion network over the columns: a few element-wise max/min passes over contiguous
arrays instead of a partition of every short row.
"""

from __future__ import annotations

import numpy as np

from risk_engine.kernels._types import FloatArray, IntArray

NO_REASON = -1
MAX_CONTRIBUTIONS = 64
_SCALE = 2.0**40
_LIMIT = 1000.0  # |log change| kept below 2**56 / 2**40 / 64 once packed
_EMPTY = np.iinfo(np.int64).min


def _packed_keys(current: FloatArray, previous: FloatArray) -> IntArray:
    """(C, n) int64 keys: quantized change << 6 | (63 - column)."""
    columns = current.shape[1]
    change = np.subtract(current.T, previous.T, order="C")
    np.clip(change, -_LIMIT, _LIMIT, out=change)
    change *= _SCALE
    keys = change.astype(np.int64)
    keys <<= 6
    keys |= (MAX_CONTRIBUTIONS - 1 - np.arange(columns, dtype=np.int64))[:, None]
    return keys


def top_reasons(
    current: FloatArray, previous: FloatArray, count: int = 4, tolerance: float = 1e-9
) -> tuple[IntArray, FloatArray]:
    """The ``count`` largest increases in contribution, largest first (ties: first column).

    current, previous: (n, C) log-scale contributions, C <= 64. Returns (indices (n, count) int64
    into the C contributions, changes (n, count), exact to 1e-12); where fewer than ``count``
    contributions rose by more than ``tolerance`` the remaining slots hold ``NO_REASON`` and 0.
    """
    n, columns = current.shape
    if columns > MAX_CONTRIBUTIONS:
        raise ValueError(f"at most {MAX_CONTRIBUTIONS} contributions can be explained")
    keys = _packed_keys(current, previous)
    tops = [np.full(n, _EMPTY, dtype=np.int64) for _ in range(count)]
    carry, low = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    for column in range(columns):
        np.copyto(carry, keys[column])
        for top in tops[:-1]:
            np.minimum(top, carry, out=low)
            np.maximum(top, carry, out=top)
            carry, low = low, carry
        np.maximum(tops[-1], carry, out=tops[-1])
    packed = np.stack(tops, axis=1)
    changes = (packed >> 6).astype(np.float64) / _SCALE
    indices = MAX_CONTRIBUTIONS - 1 - (packed & (MAX_CONTRIBUTIONS - 1))
    keep = (packed != _EMPTY) & (changes > tolerance)
    return np.where(keep, indices, NO_REASON), np.where(keep, changes, 0.0)
