"""Reasons for a premium change: which contributions grew most, robot by robot, without loops.

A log-link plan makes ``log(premium)`` the sum of its contributions, so the change in log premium
is exactly the sum of the changes in contributions; the largest increases are the reasons an
adverse-action notice must give.

The selection packs each change and its column into one int64 key (the change, truncated to
2**-40, about 1e-12, in the high bits; the column, inverted so that the first column wins a tie,
in the low six) and runs a selection network over the columns (sort groups of four, merge each
into the running top four with a bitonic merge): about five element-wise max/min passes per
column instead of a partition of every short row. The robots are taken in blocks of ``BLOCK`` so
that a block's keys stay in cache; every pass writes into preallocated buffers.
"""

from __future__ import annotations

import numpy as np

from risk_engine.kernels._types import BoolArray, FloatArray, IntArray

NO_REASON = -1
MAX_CONTRIBUTIONS = 64
BLOCK = 16384  # robots per block: a few MiB of keys, in the shared cache; fewer numpy calls
_SCALE = 2.0**40
_LIMIT = 1000.0  # |log change| kept below 2**56 / 2**40 / 64 once packed
_EMPTY = np.iinfo(np.int64).min
_LOW_BITS = MAX_CONTRIBUTIONS - 1


class _Workspace:
    """Buffers for one block of at most ``rows`` robots and ``columns`` contributions."""

    def __init__(self, columns: int, rows: int, width: int) -> None:
        self.change = np.empty((columns, rows))
        self.keys = np.empty((columns, rows), dtype=np.int64)
        self.empty = np.full((width, rows), _EMPTY, dtype=np.int64)
        self.spare = np.empty(rows, dtype=np.int64)
        self.top = np.empty((width, rows), dtype=np.int64)
        self.shifted = np.empty((width, rows), dtype=np.int64)
        self.drop = np.empty((width, rows), dtype=bool)
        self.sorting = {size: _sorting_network(size) for size in range(1, width + 1)}
        self.bitonic = _bitonic_network(width)
        # Low six bits of each column's key: 63 - column, so that a tie goes to the first column.
        self.tags = (_LOW_BITS - np.arange(columns, dtype=np.int64))[:, None]


def _pack(change: FloatArray, keys: IntArray, tags: IntArray) -> None:
    """Keys (C, b) int64 of changes (C, b): ``trunc(change * 2**40) << 6 | (63 - column)``
    for every change above zero (computed as ``trunc(change * 2**46)`` with the six low bits
    replaced: the same bits, as multiplying by a power of two is exact). At or below zero the
    truncation differs but such a change is never a reason and ranks below every positive one.
    ``change`` is overwritten."""
    np.clip(change, -_LIMIT, _LIMIT, out=change)
    change *= _SCALE * MAX_CONTRIBUTIONS
    with np.errstate(invalid="ignore"):  # NaN: int64 min, never a reason
        np.copyto(keys, change, casting="unsafe")
    keys &= ~_LOW_BITS
    keys |= tags


# Comparators (i, j) that sort registers descending: the optimal network for four, else insertion.
def _sorting_network(size: int) -> list[tuple[int, int]]:
    if size == 4:
        return [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)]
    return [(j, j + 1) for i in range(size) for j in range(i - 1, -1, -1)]


def _bitonic_network(size: int) -> list[tuple[int, int]]:
    """Comparators that sort a bitonic sequence of ``size`` (a power of two) descending."""
    pairs, stride = [], size // 2
    while stride:
        pairs += [(i, i + stride) for i in range(size) if not i & stride]
        stride //= 2
    return pairs


def _compare(registers: list[IntArray], pairs: list[tuple[int, int]], spare: IntArray) -> IntArray:
    """Apply comparators: the larger key to ``registers[i]``, the smaller to ``registers[j]``
    (distinct keys, so ties cannot arise). Returns the buffer now spare."""
    for i, j in pairs:
        np.maximum(registers[i], registers[j], out=spare)
        np.minimum(registers[i], registers[j], out=registers[j])
        registers[i], spare = spare, registers[i]
    return spare


def _select(keys: IntArray, work: _Workspace, rows: int) -> list[IntArray]:
    """The ``width`` largest keys of each column of ``keys`` (C, b), largest first (``width`` a
    power of two; missing ones ``_EMPTY``). Columns go in groups of ``width``: each group is
    sorted by a sorting network and merged into the running top ``width`` by one max pass per
    register (the elementwise max of a descending and an ascending sequence holds the top half
    and is bitonic) and a bitonic sorting network: about 5 passes per column for four reasons,
    against 7 for inserting every column."""
    width = work.empty.shape[0]
    spare = work.spare[:rows]
    columns = keys.shape[0]
    top: list[IntArray] = []
    for first in range(0, columns, width):
        group = [keys[c] for c in range(first, min(first + width, columns))]
        spare = _compare(group, work.sorting[len(group)], spare)
        if not top:
            top = group + [work.empty[i, :rows] for i in range(len(group), width)]
            continue
        for i, key in enumerate(reversed(group)):
            slot = width - len(group) + i
            np.maximum(top[slot], key, out=top[slot])
        spare = _compare(top, work.bitonic, spare)
    return top


def _unpack(
    top: IntArray, tolerance: float, work: _Workspace, index_out: IntArray, change_out: FloatArray
) -> None:
    """Reasons (count, b) from the selected keys (count, b): column and change, or ``NO_REASON``
    and 0 where the change is not above ``tolerance`` (an empty slot decodes to -2**17)."""
    count, rows = top.shape
    shifted, drop = work.shifted[:count, :rows], work.drop[:count, :rows]
    np.right_shift(top, 6, out=shifted)
    np.copyto(change_out, shifted, casting="unsafe")
    change_out *= 1.0 / _SCALE
    np.less_equal(change_out, tolerance, out=drop)
    np.bitwise_and(top, _LOW_BITS, out=index_out)
    np.subtract(_LOW_BITS, index_out, out=index_out)
    np.copyto(index_out, NO_REASON, where=drop)
    np.copyto(change_out, 0.0, where=drop)


def top_reasons(
    current: FloatArray,
    previous: FloatArray,
    count: int = 4,
    tolerance: float = 1e-9,
    *,
    new: BoolArray | None = None,
    carried_column: int | None = None,
) -> tuple[IntArray, FloatArray]:
    """The ``count`` largest increases in contribution, largest first (ties: first column).

    current, previous: (n, C) log-scale contributions, C <= 64, in any memory layout (a
    column-major one, as ``score_fleet`` passes, is read fastest). new: optional (n,) bool, robots
    with nothing to compare with: their changes are measured against zero, except in
    ``carried_column``, which counts as unchanged for them; ``previous`` is not read for them.
    Returns (indices (n, count) int64 into the C contributions, changes (n, count), truncated to a
    multiple of 2**-40, about 1e-12); where fewer than ``count`` contributions rose by more than
    ``tolerance`` the remaining slots hold ``NO_REASON`` and 0.
    """
    n, columns = current.shape
    if columns > MAX_CONTRIBUTIONS:
        raise ValueError(f"at most {MAX_CONTRIBUTIONS} contributions can be explained")
    if not 0.0 <= tolerance < _LIMIT:
        raise ValueError("the tolerance must be in [0, 1000)")
    indices = np.empty((count, n), dtype=np.int64)
    changes = np.empty((count, n))
    width = 1 << max(count - 1, 0).bit_length()  # registers: a power of two >= count
    work = _Workspace(columns, min(BLOCK, max(n, 1)), width)
    kept = None if new is None else np.logical_not(new).astype(np.float64)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        rows = stop - start
        change = work.change[:, :rows]
        if new is not None and kept is not None and new[start:stop].any():
            # previous x 0 where new (then current - 0 = current), x 1 elsewhere (unchanged).
            np.multiply(previous[start:stop].T, kept[start:stop], out=change)
            np.subtract(current[start:stop].T, change, out=change)
            if carried_column is not None:
                np.copyto(change[carried_column], 0.0, where=new[start:stop])
        else:
            np.subtract(current[start:stop].T, previous[start:stop].T, out=change)
        keys = work.keys[:, :rows]
        _pack(change, keys, work.tags)
        top = work.top[:count, :rows]
        for slot, register in enumerate(_select(keys, work, rows)[:count]):
            np.copyto(top[slot], register)
        _unpack(top, tolerance, work, indices[:, start:stop], changes[:, start:stop])
    return indices.T, changes.T
