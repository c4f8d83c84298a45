"""Opaque bearer secrets: refresh tokens (``rcr_``) and service accounts' API keys (``rck_``).

The text handed out is ``<prefix><key_id>.<secret>``: the prefix says what it is (and lets
secret scanners recognise a leaked one), the key id (a UUID in hex) finds its row without a
scan, and the secret is 32 random bytes from ``secrets.token_urlsafe``. Only SHA-256 of the
secret is stored, compared with ``hmac.compare_digest``. A slow password hash would add nothing:
256 random bits cannot be guessed offline, whatever the hash; it is people's low-entropy
passwords that need argon2id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

SECRET_BYTES: Final = 32
_SECRET_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32), unpadded
_KEY_ID_PATTERN: Final = re.compile(r"[0-9a-f]{32}")
_MAX_CHARS: Final = 256  # refused before any parsing; a well-formed one has 80


class SecretKind(StrEnum):
    """What a secret is for; the value is its prefix."""

    REFRESH_TOKEN = "rcr_"  # noqa: S105 - a prefix, not a secret
    API_KEY = "rck_"


class MalformedSecret(ValueError):  # noqa: N818 - what the caller is told: the secret is malformed
    """The presented text is not a well-formed secret of the expected kind."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PresentedSecret:
    """A secret as a client presented it, parsed but not yet checked against its row."""

    kind: SecretKind
    key_id: uuid.UUID
    secret: str = field(repr=False)

    def digest(self) -> bytes:
        return secret_digest(self.secret)


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A new secret: the text for the client (shown once) and what the store keeps."""

    kind: SecretKind
    key_id: uuid.UUID
    text: str = field(repr=False)
    digest: bytes = field(repr=False)


def secret_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def issue_secret(kind: SecretKind) -> IssuedSecret:
    key_id = uuid.uuid4()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return IssuedSecret(kind, key_id, f"{kind.value}{key_id.hex}.{secret}", secret_digest(secret))


def parse_secret(text: str, kind: SecretKind) -> PresentedSecret:
    """Parse a presented secret of the given kind; MalformedSecret(reason) otherwise.

    Reasons: too_long, wrong_kind (the other kind's prefix), unknown_prefix, missing_separator,
    bad_key_id, bad_secret.
    """
    if len(text) > _MAX_CHARS:
        raise MalformedSecret("too_long")
    if not text.startswith(kind.value):
        other = any(text.startswith(k.value) for k in SecretKind)
        raise MalformedSecret("wrong_kind" if other else "unknown_prefix")
    key_id_text, separator, secret = text[len(kind.value) :].partition(".")
    if not separator:
        raise MalformedSecret("missing_separator")
    if not _KEY_ID_PATTERN.fullmatch(key_id_text):
        raise MalformedSecret("bad_key_id")
    if not _SECRET_PATTERN.fullmatch(secret):
        raise MalformedSecret("bad_secret")
    return PresentedSecret(kind, uuid.UUID(hex=key_id_text), secret)


def secret_matches(presented: PresentedSecret, stored_digest: bytes | None) -> bool:
    """Whether the secret matches its row's digest, in constant time.

    Pass None when no row has the key id: the comparison still runs, against zeros, so a
    missing row and a wrong secret take the same time.
    """
    expected = stored_digest if stored_digest is not None else bytes(32)
    return hmac.compare_digest(expected, presented.digest()) and stored_digest is not None
