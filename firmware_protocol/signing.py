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
from nacl.public import SealedBox
from nacl.signing import SigningKey, VerifyKey

from firmware_protocol import _cbor
from firmware_protocol.codec import Decoded, Form
from firmware_protocol.errors import ErrorCode, InvalidFieldError, ProtocolError, SignatureError
from firmware_protocol.limits import MAX_SEALED_BYTES, SEALED_OVERHEAD_BYTES

MAX_CREDENTIAL_BYTES = 128
"""Longest broker user name or password in sealed rotation credentials (UTF-8 bytes)."""

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

    def open_sealed(self, sealed: bytes) -> bytes:
        """Open what `seal_to_robot` sealed to this key (1.2 rotation credentials)."""
        box = SealedBox(self._key.to_curve25519_private_key())
        try:
            opened: bytes = box.decrypt(sealed)
        except CryptoError:
            raise SignatureError(
                "the sealed credentials were not sealed to this robot's key"
            ) from None
        return opened

    def open_credentials(self, sealed: bytes) -> tuple[str, str]:
        """The broker (username, password) of a config's rotation_credentials (1.2)."""
        try:
            value = _cbor.loads(self.open_sealed(sealed))
        except ProtocolError as exc:
            raise InvalidFieldError(f"sealed credentials: {exc.reason}") from None
        if type(value) is not list or len(value) != 2 or not all(map(_credential, value)):
            raise InvalidFieldError("sealed credentials must be [username, password] text")
        return value[0], value[1]

    def __repr__(self) -> str:
        return f"RobotSigner(public_key={self.public_key.hex()})"  # never the seed


def _credential(value: object) -> bool:
    return type(value) is str and 1 <= len(value.encode()) <= MAX_CREDENTIAL_BYTES


def seal_credentials(public_key: bytes, username: str, password: str) -> bytes:
    """A robot's new broker account as a config's rotation_credentials (1.2): the CBOR array
    [username, password] sealed to the robot's current public key (`seal_to_robot`)."""
    if not (_credential(username) and _credential(password)):
        raise InvalidFieldError(f"user name and password are 1..{MAX_CREDENTIAL_BYTES} bytes")
    sealed = seal_to_robot(public_key, _cbor.dumps([username, password]))
    if not SEALED_OVERHEAD_BYTES < len(sealed) <= MAX_SEALED_BYTES:  # pragma: no cover
        raise InvalidFieldError("sealed credentials exceed the protocol's limit")
    return sealed


def seal_to_robot(public_key: bytes, plaintext: bytes) -> bytes:
    """Encrypt `plaintext` so that only the holder of `public_key`'s signing key can read it:
    libsodium's crypto_box_seal to the X25519 key converted from the Ed25519 key
    (crypto_sign_ed25519_pk_to_curve25519). The sealed bytes are 48 longer than `plaintext`."""
    recipient = load_public_key(public_key).to_curve25519_public_key()
    sealed: bytes = SealedBox(recipient).encrypt(plaintext)
    return sealed


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
