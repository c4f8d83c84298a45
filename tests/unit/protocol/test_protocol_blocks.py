"""The one block encoder (firmware_protocol/blocks.py, pure Python, what TelemetryRows and
TelemetryBatch both encode with) produces exactly the bytes the format specifies, and the numpy
decoder reads them back: held against the format computed with numpy from columns.py's text."""

from __future__ import annotations

from typing import Any

import numpy as np
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_protocol import LimitExceededError
from firmware_protocol.blocks import BlockCodec, encode_block
from firmware_protocol.columns import decode_block
from tests.unit.protocol.codec_support import outcome

PROFILE = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


def _spec_block(rows: np.ndarray[Any, Any], bases: np.ndarray[Any, Any], compress: bool) -> Any:
    """The block format as written in columns.py's docstring, computed with numpy: the oracle
    for blocks.encode_block (and, byte for byte, the numpy encoder this release replaced)."""
    deltas = np.diff(rows, axis=1, prepend=bases.reshape(-1, 1))
    low, high = (int(deltas.min()), int(deltas.max())) if deltas.size else (0, 0)
    if max(-low, high) > 2**31 - 1:
        return LimitExceededError
    width = next(w for w in (1, 2, 4) if -(1 << (8 * w - 1)) <= low and high < 1 << (8 * w - 1))
    raw = deltas.astype(f"<i{width}").tobytes()
    if not compress:
        return BlockCodec.RAW, width, raw
    shuffled = np.frombuffer(raw, np.uint8).reshape(-1, width).T.tobytes()
    packed = zstandard.ZstdCompressor(level=3, write_content_size=True).compress(shuffled)
    if len(packed) >= len(raw):
        return BlockCodec.RAW, width, raw
    return BlockCodec.SHUFFLE_ZSTD, width, packed


@st.composite
def blocks(draw: st.DrawFn) -> tuple[list[list[int]], list[int]]:
    metrics, samples = draw(st.integers(0, 6)), draw(st.integers(1, 40))
    scale = draw(st.sampled_from([1, 127, 128, 2**15, 2**31 - 1, 2**31]))
    delta = st.integers(-scale, scale) | st.sampled_from([scale, -scale, 0])
    rows, bases = [], []
    for _ in range(metrics):
        row = [draw(st.integers(-(2**53), 2**53))]
        for d in draw(st.lists(delta, min_size=samples - 1, max_size=samples - 1)):
            row.append(row[-1] + d)
        rows.append(row)
        bases.append(row[0] - draw(st.just(0) | delta))
    return rows, bases


@PROFILE
@given(blocks(), st.booleans())
def test_block_encoder_follows_the_spec_and_the_numpy_decoder_reads_it(
    block: tuple[list[list[int]], list[int]], compress: bool
) -> None:
    rows, bases = block
    count = sum(map(len, rows))
    array = np.asarray(rows, dtype=np.int64).reshape(len(rows), -1 if rows else 0)
    expected = _spec_block(array, np.asarray(bases, dtype=np.int64), compress)
    error, encoded = outcome(lambda: encode_block(rows, bases, compress=compress))
    if expected is LimitExceededError:
        assert error is LimitExceededError
        return
    assert encoded == expected
    codec, width, data = encoded
    deltas = decode_block(codec, width, data, count).astype(np.int64)
    np.testing.assert_array_equal(
        np.cumsum(deltas.reshape(array.shape), axis=1) + np.asarray(bases).reshape(-1, 1), array
    )
