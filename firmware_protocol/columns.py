"""Integer column blocks: delta, fixed width, optional byte-shuffle + zstd.

A block encodes ``rows x count`` signed integers ``x`` given one base per row::

    d[r][0] = x[r][0] - base[r];  d[r][i] = x[r][i] - x[r][i-1]
    width = smallest of 1, 2, 4 bytes whose two's complement range holds every d
    raw = d as little-endian two's-complement `width`-byte integers, row after row
    codec 0 (RAW):          data = raw
    codec 1 (SHUFFLE_ZSTD): data = zstd(byte-shuffle(raw)); byte-shuffle writes byte 0 of every
                            integer, then byte 1 of every integer, ... (raw viewed as N x width,
                            transposed). The zstd frame must declare its content size.

This module is the DECODER: a handful of vectorised numpy operations over the whole block (no
per-sample loop): ``x = base + cumsum(d)`` along each row. The one encoder is pure Python, in
blocks.py, so that robots never import numpy.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import zstandard

from firmware_protocol.blocks import BlockCodec
from firmware_protocol.errors import ErrorCode, InvalidFieldError, UnsupportedVersionError

SignedArray = npt.NDArray[np.signedinteger[Any]]
_DTYPES: Final[dict[int, np.dtype[np.signedinteger[Any]]]] = {
    1: np.dtype("<i1"),
    2: np.dtype("<i2"),
    4: np.dtype("<i4"),
}


def decode_block(codec: int, width: int, data: bytes, count: int) -> SignedArray:
    """Decode to the `count` deltas (flat, row after row, narrow signed dtype).

    The caller accumulates them in int64 (``np.cumsum(..., dtype=np.int64)``), which costs
    one numpy call instead of a widening copy plus a sum.
    """
    if width not in _DTYPES:
        raise InvalidFieldError(f"block width {width!r} is not 1, 2 or 4")
    expected = count * width
    if codec == BlockCodec.RAW:
        if len(data) != expected:
            raise InvalidFieldError(f"raw block holds {len(data)} bytes, expected {expected}")
        return np.frombuffer(data, _DTYPES[width])
    if codec == BlockCodec.SHUFFLE_ZSTD:
        raw = _decompress_exactly(data, expected)
        return _unshuffle(np.frombuffer(raw, np.uint8).reshape(width, count), width)
    raise UnsupportedVersionError(
        f"block codec {codec!r} is not 0 (raw) or 1 (shuffle+zstd)",
        ErrorCode.UNSUPPORTED_ENCODING,
    )


_UNSIGNED: Final = {1: np.uint8, 2: np.uint16, 4: np.uint32}
_SMALL_BLOCK: Final = 512


def _unshuffle(planes: npt.NDArray[np.uint8], width: int) -> SignedArray:
    """Reassemble integers from byte planes. For large blocks, shifts and ors (one pass per
    plane) beat numpy's strided copy of a transposed uint8 array several times over; for small
    ones the copy wins, having fewer calls."""
    if planes.size <= _SMALL_BLOCK:
        small: SignedArray = np.ascontiguousarray(planes.T).view(_DTYPES[width]).reshape(-1)
        return small
    unsigned = _UNSIGNED[width]
    result = planes[0].astype(unsigned)
    for plane in range(1, width):
        result |= planes[plane].astype(unsigned) << unsigned(8 * plane)
    large: SignedArray = result.view(_DTYPES[width])
    return large


_LOCAL: Final = threading.local()


def _decompressor() -> zstandard.ZstdDecompressor:
    """One decompressor per thread: creating one costs more than decompressing a batch."""
    cached: zstandard.ZstdDecompressor | None = getattr(_LOCAL, "decompressor", None)
    if cached is None:
        cached = _LOCAL.decompressor = zstandard.ZstdDecompressor()
    return cached


def _decompress_exactly(data: bytes, expected: int) -> bytes:
    """Decompress one zstd frame that must declare exactly `expected` bytes of content.

    Bounded before anything is allocated: the declared size is checked against `expected`
    (which the caller bounds by the protocol's limits), then the frame is decompressed in one
    pass into a buffer of exactly that size, so a frame whose blocks hold more than it declares
    (a bomb of RLE blocks, say) fails at the first block that overflows the buffer instead of
    growing a stream's output until the frame's end. Bytes after the frame are refused.
    """
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError:
        raise InvalidFieldError(
            "block is not a zstd frame", ErrorCode.DECOMPRESSION_FAILED
        ) from None
    if declared < 0:
        raise InvalidFieldError("zstd frame does not declare its content size", ErrorCode.BAD_FIELD)
    if declared != expected:
        code = ErrorCode.DECOMPRESSION_BOMB if declared > expected else ErrorCode.BAD_FIELD
        raise InvalidFieldError(f"zstd frame declares {declared} bytes, expected {expected}", code)
    if data[:4] != ZSTD_FRAME_MAGIC:
        raise InvalidFieldError(
            "a skippable frame holds no content", ErrorCode.DECOMPRESSION_FAILED
        )
    try:
        if expected == 0:
            raw = _decompress_empty(data)
        else:
            raw = _decompressor().decompress(data, max_output_size=expected, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise InvalidFieldError(f"zstd: {exc}", ErrorCode.DECOMPRESSION_FAILED) from None
    if len(raw) != expected:
        raise InvalidFieldError(
            f"zstd frame holds {len(raw)} bytes, expected {expected}",
            ErrorCode.DECOMPRESSION_FAILED,
        )
    return raw


ZSTD_FRAME_MAGIC: Final = b"\x28\xb5\x2f\xfd"


def _decompress_empty(data: bytes) -> bytes:
    """A frame that declares no content, read to its end. python-zstandard's one-shot
    decompress returns b"" for it without reading its blocks, which would let corrupt blocks
    or a bomb through: a bounded streaming read must find the frame's end and nothing after
    it (libzstd refuses, at its first block, output beyond the declared 0 bytes)."""
    stream = _decompressor().decompressobj()
    raw = stream.decompress(data)
    if raw or not stream.eof or stream.unused_data:
        raise zstandard.ZstdError("an empty frame holds blocks, is incomplete, or is followed")
    return raw
