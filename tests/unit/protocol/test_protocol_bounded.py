"""Decoding is bounded in memory and time by what the payload holds, never by what it claims."""

from __future__ import annotations

import tracemalloc
import uuid

import pytest

from firmware_protocol import ErrorCode, ProtocolError, RobotSigner, decode
from firmware_protocol.codec import check_size
from firmware_protocol.columns import decode_block
from tests.support.attacks import garbage_signed_frame, rle_bomb_frame, telemetry_bomb_body

ROBOT, BOOT = uuid.UUID(int=1), uuid.UUID(int=2)


def _peak_bytes(action: object) -> tuple[int, ProtocolError]:
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError) as caught:
            action()  # type: ignore[operator]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, caught.value


@pytest.mark.parametrize("block_size", [4096, 128 * 1024])
def test_an_rle_bomb_that_declares_the_expected_size_is_refused_at_its_first_extra_block(
    block_size: int,
) -> None:
    frame = rle_bomb_frame(declared=262_144, blocks=60_000, block_size=block_size)
    assert len(frame) < 262_144  # it fits in one payload
    peak, error = _peak_bytes(lambda: decode_block(1, 4, frame, 65_536))
    assert error.code is ErrorCode.DECOMPRESSION_FAILED
    assert peak < 2 * 262_144  # the block's own 256 KiB, never the 7.5 GiB the blocks hold


def test_a_telemetry_message_carrying_a_bomb_is_refused_before_its_signature_is_checked() -> None:
    body = telemetry_bomb_body(
        ROBOT.bytes, BOOT.bytes, seq=1, prev_digest=bytes(32), wall_us=10**15, mono_us=10**9
    )
    payload = garbage_signed_frame(1, body)
    check_size(payload)  # a legal size: 242 KB
    peak, error = _peak_bytes(lambda: decode(payload))
    assert error.code is ErrorCode.DECOMPRESSION_FAILED
    assert peak < 4 * 1024 * 1024


def test_a_genuine_compressed_block_still_decodes() -> None:
    from firmware_protocol import TelemetryRows, encode

    rows = TelemetryRows.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=0,
        prev_digest=bytes(32),
        wall_us=10**15,
        mono_us=10**9,
        timestamps_us=range(10**9, 10**9 + 4096 * 1000, 1000),
        series={"battery_soc_pct": [50.0] * 4096},
    )
    decoded = decode(encode(rows, RobotSigner.generate()))
    assert decoded.message.sample_count == 4096  # type: ignore[union-attr]
