from __future__ import annotations

import pytest

from firmware_protocol import (
    ErrorCode,
    ProtocolError,
    RobotSigner,
    SignatureError,
    TelemetryBatch,
    decode,
    encode,
    load_public_key,
    to_json,
    verify,
)
from firmware_protocol.codec import SIGNING_CONTEXT


def test_signed_batch_verifies(typical_batch: TelemetryBatch, signer: RobotSigner) -> None:
    decoded = decode(encode(typical_batch, signer))
    verify(decoded, signer.public_key)
    verify(decoded, load_public_key(signer.public_key))
    assert decoded.signed_data.startswith(SIGNING_CONTEXT + b"RC\x01\x00\x01\x01")


def test_every_altered_byte_is_caught(typical_batch: TelemetryBatch, signer: RobotSigner) -> None:
    """Flip each byte in turn: the result is refused by decode or by verify, never accepted."""
    payload = encode(typical_batch, signer)
    for index in range(len(payload)):
        altered = bytearray(payload)
        altered[index] ^= 0x40
        try:
            decoded = decode(bytes(altered))
        except ProtocolError:
            continue  # refused outright; anything but a ProtocolError fails the test
        with pytest.raises(SignatureError) as caught:
            verify(decoded, signer.public_key)
        assert caught.value.code is ErrorCode.BAD_SIGNATURE


def test_wrong_key_and_unsigned(typical_batch: TelemetryBatch, signer: RobotSigner) -> None:
    decoded = decode(encode(typical_batch, signer))
    with pytest.raises(SignatureError) as caught:
        verify(decoded, RobotSigner.generate().public_key)
    assert caught.value.code is ErrorCode.BAD_SIGNATURE
    with pytest.raises(SignatureError) as caught:
        verify(decode(to_json(typical_batch)), signer.public_key)
    assert caught.value.code is ErrorCode.UNSIGNED


def test_key_handling(signer: RobotSigner) -> None:
    assert len(signer.public_key) == 32
    assert signer.public_key.hex() in repr(signer)
    for bad in (b"short", "x" * 32):
        with pytest.raises(SignatureError) as caught:
            RobotSigner.from_seed(bad)  # type: ignore[arg-type]
        assert caught.value.code is ErrorCode.BAD_KEY
        with pytest.raises(SignatureError):
            load_public_key(bad)  # type: ignore[arg-type]
