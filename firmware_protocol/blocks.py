"""The integer column block ENCODER, in pure Python (no numpy): what robots run.

The block format is specified in columns.py's docstring (and docs/protocol.md section 6);
columns.py holds the numpy decoder. There is exactly one encoder, this one: TelemetryRows and
TelemetryBatch are both encoded through it, so both give the same bytes.

Per block the work is a handful of C-level passes: ``map(operator.sub, ...)`` for the deltas,
``struct.pack`` for the fixed-width integers, bytes slicing for the byte-shuffle, one zstd call.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence
from enum import IntEnum
from itertools import chain
from operator import sub
from typing import Final

import zstandard

from firmware_protocol.errors import LimitExceededError
from firmware_protocol.limits import MAX_DELTA_MAGNITUDE

ZSTD_LEVEL: Final = 3


class BlockCodec(IntEnum):
    RAW = 0
    SHUFFLE_ZSTD = 1


_FORMATS: Final = ((1, "b"), (2, "h"), (4, "i"))
"""Width and struct format letter: with "<", standard little-endian sizes on every platform."""


def encode_block(
    rows: Sequence[Sequence[int]], bases: Sequence[int], *, compress: bool
) -> tuple[BlockCodec, int, bytes]:
    """Encode `rows` (each a sequence of ints, all of one length) against one base per row.

    Raises LimitExceededError when two successive values (or a first value and its base)
    differ by more than 2**31 - 1.
    """
    deltas: list[int] = []
    for row, base in zip(rows, bases, strict=True):
        # d[0] = x[0] - base, d[i] = x[i] - x[i-1]: map stops at the end of `row`.
        deltas += map(sub, row, chain((base,), row))
    raw, width = _pack(deltas)
    if not compress:
        return BlockCodec.RAW, width, raw
    # Byte-shuffle: byte 0 of every integer, then byte 1 of every integer, ...
    shuffled = raw if width == 1 else b"".join([raw[i::width] for i in range(width)])
    compressed = _compressor().compress(shuffled)
    if len(compressed) >= len(raw):
        return BlockCodec.RAW, width, raw  # incompressible: never pay zstd's frame overhead
    return BlockCodec.SHUFFLE_ZSTD, width, compressed


def _pack(deltas: list[int]) -> tuple[bytes, int]:
    """Little-endian two's complement in the smallest width that holds every delta.

    struct checks each value's range as it packs, so trying the widths in turn costs less
    than a min() and a max() over the deltas first (the narrow attempts fail early).
    """
    count = len(deltas)
    for width, letter in _FORMATS:
        try:
            raw = struct.pack(f"<{count}{letter}", *deltas)
        except struct.error:
            continue
        # 4 bytes also hold -2**31, one beyond the protocol's symmetric bound.
        if width < 4 or min(deltas) >= -MAX_DELTA_MAGNITUDE:
            return raw, width
        break
    raise LimitExceededError("a step between successive values exceeds 2**31 - 1 quanta")


_LOCAL: Final = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    """One compressor per thread (not thread-safe; creating one costs more than a block)."""
    cached: zstandard.ZstdCompressor | None = getattr(_LOCAL, "compressor", None)
    if cached is None:
        cached = _LOCAL.compressor = zstandard.ZstdCompressor(
            level=ZSTD_LEVEL, write_content_size=True
        )
    return cached
