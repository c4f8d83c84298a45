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


def test_signatures_are_rfc8032_ed25519() -> None:
    """RFC 8032 section 7.1, test 1: PyNaCl gives the standard (deterministic) signature."""
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    signer = RobotSigner.from_seed(seed)
    assert signer.public_key.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert signer.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39"
        "701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert seed.hex() not in repr(signer)


@pytest.mark.parametrize(
    "public_key",
    [
        bytes([1]) + bytes(31),  # the identity point: small order, refused by libsodium
        bytes(32),  # small order too
        b"\xff" * 32,  # not a canonical point encoding
    ],
)
def test_unusable_public_keys_load_but_never_verify(
    typical_batch: TelemetryBatch, signer: RobotSigner, public_key: bytes
) -> None:
    decoded = decode(encode(typical_batch, signer))
    key = load_public_key(public_key)  # documented: PyNaCl loads any 32 bytes
    for candidate in (key, public_key):
        with pytest.raises(SignatureError) as caught:
            verify(decoded, candidate)
        assert caught.value.code is ErrorCode.BAD_SIGNATURE
