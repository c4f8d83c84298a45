"""Ed25519 signatures (RFC 8032, via PyNaCl/libsodium) over domain-separated frames.

A robot holds one 32-byte private key seed; the cloud holds the 32-byte public key from
enrolment. The signature covers SIGNING_CONTEXT + header + body (see codec.Decoded.signed_data),
so the kind, the versions and every body byte are authenticated.

Ed25519 signing is deterministic, so any conforming implementation gives the same signature
bytes. Verification is libsodium's, which is stricter than some (OpenSSL's, for one): it refuses
signatures with a non-canonical S and public keys of small order, which no honest signer
produces. PyNaCl loads any 32 bytes as a public key; a key that is not a usable curve point is
not refused at load, it simply never verifies (BAD_SIGNATURE). Should PyNaCl ever refuse a key
when loading it, load_public_key reports that as BAD_KEY.
"""

from __future__ import annotations

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import SigningKey, VerifyKey

from firmware_protocol.codec import Decoded, Form
from firmware_protocol.errors import ErrorCode, SignatureError

KEY_BYTES = 32


class RobotSigner:
    """The robot's signing key. Keep the seed where the robot's owner cannot read it."""

    __slots__ = ("_key", "_public_key")

    def __init__(self, private_key: SigningKey) -> None:
        self._key = private_key
        self._public_key = private_key.verify_key.encode()

    @classmethod
    def generate(cls) -> RobotSigner:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> RobotSigner:
        if type(seed) is not bytes or len(seed) != KEY_BYTES:
            raise SignatureError("an Ed25519 private key is 32 bytes", ErrorCode.BAD_KEY)
        return cls(SigningKey(seed))

    @property
    def public_key(self) -> bytes:
        """The 32 raw bytes of the public key (what enrolment registers)."""
        return self._public_key

    def sign(self, data: bytes) -> bytes:
        signature: bytes = self._key.sign(data).signature
        return signature

    def __repr__(self) -> str:
        return f"RobotSigner(public_key={self.public_key.hex()})"  # never the seed


def load_public_key(public_key: bytes) -> VerifyKey:
    """A robot's 32-byte public key, ready to verify (load once, verify many)."""
    if type(public_key) is not bytes or len(public_key) != KEY_BYTES:
        raise SignatureError("an Ed25519 public key is 32 bytes", ErrorCode.BAD_KEY)
    try:
        return VerifyKey(public_key)
    except (CryptoError, ValueError, TypeError):  # pragma: no cover - PyNaCl 1.6 loads any 32 bytes
        raise SignatureError("not a usable Ed25519 public key", ErrorCode.BAD_KEY) from None


def verify(decoded: Decoded, public_key: bytes | VerifyKey) -> None:
    """Raise SignatureError unless `decoded` is a binary frame signed by `public_key`.

    UNSIGNED: no signature (a JSON debug message, or an unsigned frame);
    BAD_SIGNATURE: the signature does not match the bytes received (or the key is not a
    usable curve point: see the module docstring);
    BAD_KEY: `public_key` is not 32 bytes.
    """
    key = public_key if isinstance(public_key, VerifyKey) else load_public_key(public_key)
    if decoded.signature is None or decoded.form is not Form.BINARY:
        raise SignatureError(f"{decoded.kind.name} message is not signed", ErrorCode.UNSIGNED)
    try:
        key.verify(decoded.signed_data, decoded.signature)
    except BadSignatureError:
        raise SignatureError(f"{decoded.kind.name} signature does not verify") from None
