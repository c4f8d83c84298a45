"""The columns of a telemetry body, docs/protocol.md section 6: blocks, zstd frames, deltas."""

from __future__ import annotations

import itertools
import struct
from typing import cast

import zstandard

from tests.conformance.doc_decoder.core import Q53, T54, fail
from tests.conformance.doc_decoder.fields import Block


def _zstd_inflate(data: bytes, size: int) -> bytes:
    """Decompress one frame holding exactly ``size`` bytes; libzstd stops at ``size``."""
    if data[:4] != b"\x28\xb5\x2f\xfd":
        # Added after the clean-room report: section 6 now says a skippable frame is not a
        # zstd frame holding content (the report's item 15 had accepted one as 0 bytes).
        fail("DECOMPRESSION_FAILED")
    try:
        stream = zstandard.ZstdDecompressor(max_window_size=1 << 31).decompressobj()
        out = stream.decompress(data)
        complete = stream.eof and not stream.unused_data
    except zstandard.ZstdError:
        fail("DECOMPRESSION_FAILED")
    if not complete or len(out) != size:
        fail("DECOMPRESSION_FAILED")
    return out


def _deltas(raw: bytes, width: int, codec: int, count: int) -> tuple[int, ...]:
    if codec == 1 and width > 1:
        unshuffled = bytearray(count * width)
        for b in range(width):
            unshuffled[b::width] = raw[b * count : (b + 1) * count]
        raw = bytes(unshuffled)
    fmt = {1: "b", 2: "h", 4: "i"}[width]
    deltas: tuple[int, ...] = struct.unpack(f"<{count}{fmt}", raw)
    return deltas


def _declared_size(codec: int, data: bytes) -> int:
    """The byte count a block declares: its data's for codec 0, its frame header's for 1."""
    if codec == 0:
        return len(data)
    try:
        size = zstandard.frame_content_size(data)  # libzstd's ZSTD_getFrameContentSize
    except zstandard.ZstdError:
        fail("DECOMPRESSION_FAILED")
    if size < 0:
        fail("BAD_FIELD")  # no declared content size
    return size


def _accumulate(bases: tuple[int, ...], deltas: tuple[int, ...], n: int) -> list[list[int]]:
    rows: list[list[int]] = []
    for r, base in enumerate(bases):
        row = list(itertools.accumulate(deltas[r * n : (r + 1) * n], initial=base))
        rows.append(row[1:])
    return rows


def telemetry(c: dict[int, object]) -> dict[str, object]:
    """Section 6.1, steps 2-9 (step 1, the genesis rule, is run by the caller)."""
    t_base, refs, exps = cast("int", c[10]), cast("list[object]", c[12]), cast("list[int]", c[14])
    channels, bases = cast("bytes", c[13]), cast("bytes", c[15])
    t_codec, t_width, t_data = cast("Block", c[11])
    v_codec, v_width, v_data = cast("Block", c[16])
    m = len(refs)
    if len(channels) != m or len(exps) != m or len(bases) != 8 * m:  # step 2
        fail("BAD_FIELD")
    size = _declared_size(t_codec, t_data)  # step 3
    if size // t_width > 4096:
        fail("LIMIT_EXCEEDED")
    if size == 0 or size % t_width:
        fail("BAD_FIELD")
    n = size // t_width
    if m * n > 65_536:  # step 4
        fail("LIMIT_EXCEEDED")
    t_raw = t_data if t_codec == 0 else _zstd_inflate(t_data, size)  # step 5
    expected = m * n * v_width  # step 6
    declared = _declared_size(v_codec, v_data)
    if v_codec == 1 and declared > expected:
        fail("DECOMPRESSION_BOMB")
    if declared != expected:
        fail("BAD_FIELD")
    v_raw = v_data if v_codec == 0 else _zstd_inflate(v_data, declared)
    (timestamps,) = _accumulate((t_base,), _deltas(t_raw, t_width, t_codec, n), n)  # step 7
    if any(a >= b for a, b in itertools.pairwise(timestamps)):
        fail("BAD_FIELD")
    if timestamps[0] < 0 or timestamps[-1] > T54:
        fail("BAD_FIELD")
    base_values = struct.unpack(f"<{m}q", bases)  # step 8
    rows = _accumulate(base_values, _deltas(v_raw, v_width, v_codec, m * n), n)
    if any(abs(x) > Q53 for row in rows for x in row):
        fail("LIMIT_EXCEEDED")
    if len(set(zip(refs, channels, strict=True))) != m:  # step 9
        fail("BAD_FIELD")
    metrics: list[dict[str, object]] = [
        {"ref": refs[r], "channel": channels[r], "exp": exps[r], "q": rows[r]} for r in range(m)
    ]
    return {"timestamps_us": timestamps, "metrics": metrics}
