"""Users' passwords: argon2id hashes, and the policy a new password must meet.

Hashing is argon2-cffi's ``PasswordHasher`` (the reference Argon2 implementation, maintained
and audited, with a PHC-string format carrying its own parameters and salt); nothing about the
algorithm is hand-rolled here. The parameters are RFC 9106's second recommended option (the
"low memory" profile, also argon2-cffi's default): argon2id, t=3 passes, m=64 MiB, p=4 lanes,
16-byte salt, 32-byte tag. When they change, ``needs_rehash`` tells the login code to store a
fresh hash made with the new ones after a successful verification.

Passwords are normalised to Unicode NFKC before hashing and checking (NIST SP 800-63B 5.1.1.2),
so the same password typed on keyboards that compose characters differently still matches.

``verify`` never raises on what is stored: a malformed or foreign hash simply does not match.
``dummy_verify`` runs one full verification against a fixed hash, for the login path of a user
that does not exist, so the response time does not reveal which usernames exist.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error
from argon2.profiles import RFC_9106_LOW_MEMORY

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_BYTES = 1024  # bounds the work an attacker can ask of the hasher per attempt

_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


class PasswordProblem(StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    SAME_AS_USERNAME = "same_as_username"
    NOT_TEXT = "not_text"  # lone surrogates: not encodable as UTF-8


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def password_problem(password: str, username: str) -> PasswordProblem | None:
    """Why this password may not be set for this user, or None when it may."""
    normalised = _normalise(password)
    try:
        size = len(normalised.encode("utf-8"))
    except UnicodeEncodeError:
        return PasswordProblem.NOT_TEXT
    if size > MAX_PASSWORD_BYTES:
        return PasswordProblem.TOO_LONG
    if len(normalised) < MIN_PASSWORD_CHARS:
        return PasswordProblem.TOO_SHORT
    if normalised.casefold() == _normalise(username).casefold():
        return PasswordProblem.SAME_AS_USERNAME
    return None


def hash_password(password: str) -> str:
    """The argon2id PHC string to store for the password (salted, parameters included)."""
    return _HASHER.hash(_normalise(password))


# A hash made with the parameters above (a test keeps them in step), of no user's password. It is
# a constant so the first login of an unknown user does not also pay for making it.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$sRo7u/EubkMQp2TkeKC1FQ"
    "$+t0va51LtALXDXKz9g6uS6nTht5cd5ktnHAPShd3Q20"
)


def _matches(stored_hash: str, normalised: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, normalised)
    except (Argon2Error, ValueError):  # mismatch, malformed hash, unencodable password
        return False


def verify(stored_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash; False, never an exception, otherwise."""
    normalised = _normalise(password)
    if len(normalised.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        return dummy_verify("")  # no such password was ever accepted; take the same time
    return _matches(stored_hash, normalised)


def needs_rehash(stored_hash: str) -> bool:
    """Whether the stored hash was made with other parameters (or is not argon2id at all)."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except ValueError:  # malformed: it cannot verify anyway; a new hash replaces it
        return True


def dummy_verify(password: str) -> bool:
    """Spend the time of a real verification, for a user that does not exist; always False."""
    _matches(_DUMMY_HASH, _normalise(password))
    return False
