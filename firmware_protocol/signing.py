"""Ed25519 signatures (RFC 8032, via `cryptography`) over domain-separated frames.

A robot holds one 32-byte private key seed; the cloud holds the 32-byte public key from
enrolment. The signature covers SIGNING_CONTEXT + header + body (see codec.Decoded.signed_data),
so the kind, the versions and every body byte are authenticated.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from firmware_protocol.codec import Decoded, Form
from firmware_protocol.errors import ErrorCode, SignatureError

KEY_BYTES = 32


class RobotSigner:
    """The robot's signing key. Keep the seed where the robot's owner cannot read it."""

    __slots__ = ("_key",)

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    @classmethod
    def generate(cls) -> RobotSigner:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> RobotSigner:
        if type(seed) is not bytes or len(seed) != KEY_BYTES:
            raise SignatureError("an Ed25519 private key is 32 bytes", ErrorCode.BAD_KEY)
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> bytes:
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def __repr__(self) -> str:
        return f"RobotSigner(public_key={self.public_key.hex()})"  # never the seed


def load_public_key(public_key: bytes) -> Ed25519PublicKey:
    if type(public_key) is not bytes or len(public_key) != KEY_BYTES:
        raise SignatureError("an Ed25519 public key is 32 bytes", ErrorCode.BAD_KEY)
    # Any 32 bytes load; a key that is not a curve point simply never verifies.
    return Ed25519PublicKey.from_public_bytes(public_key)


def verify(decoded: Decoded, public_key: bytes | Ed25519PublicKey) -> None:
    """Raise SignatureError unless `decoded` is a binary frame signed by `public_key`.

    UNSIGNED: no signature (a JSON debug message, or an unsigned frame);
    BAD_SIGNATURE: the signature does not match the bytes received.
    """
    key = public_key if isinstance(public_key, Ed25519PublicKey) else load_public_key(public_key)
    if decoded.signature is None or decoded.form is not Form.BINARY:
        raise SignatureError(f"{decoded.kind.name} message is not signed", ErrorCode.UNSIGNED)
    try:
        key.verify(decoded.signature, decoded.signed_data)
    except InvalidSignature:
        raise SignatureError(f"{decoded.kind.name} signature does not verify") from None
