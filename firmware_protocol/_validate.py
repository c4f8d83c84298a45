"""Small strict checks shared by the message values. Each raises `InvalidFieldError` (BAD_FIELD)."""

from __future__ import annotations

import math
import uuid

from firmware_protocol.errors import InvalidFieldError, LimitExceededError
from firmware_protocol.limits import MAX_NAME_BYTES, MAX_TEXT_BYTES, MAX_TIME_US, MAX_UINT

DIGEST_BYTES = 32
ZERO_DIGEST = bytes(DIGEST_BYTES)


def uint(value: object, name: str, maximum: int = MAX_UINT, minimum: int = 0) -> int:
    # bool is an int subclass; a True where a count belongs is a bug, not a 1. (IntEnum is fine.)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise InvalidFieldError(f"{name} must be an integer in {minimum}..{maximum}, got {value!r}")
    return value


def time_us(value: object, name: str) -> int:
    return uint(value, name, MAX_TIME_US)


def signed_time_us(value: object, name: str) -> int:
    """Wall clocks may be set before 1970 on a robot with a flat RTC battery."""
    return uint(value, name, MAX_TIME_US, -MAX_TIME_US)


def digest(value: object, name: str) -> bytes:
    if type(value) is not bytes or len(value) != DIGEST_BYTES:
        raise InvalidFieldError(f"{name} must be {DIGEST_BYTES} bytes")
    return value


def byte_string(value: object, name: str, minimum: int, maximum: int) -> bytes:
    if type(value) is not bytes or not minimum <= len(value) <= maximum:
        raise InvalidFieldError(f"{name} must be {minimum}..{maximum} bytes")
    return value


def robot_uuid(value: object, name: str) -> uuid.UUID:
    if not isinstance(value, uuid.UUID):
        raise InvalidFieldError(f"{name} must be a UUID")
    return value


def text(value: object, name: str, max_bytes: int = MAX_TEXT_BYTES, *, empty: bool = False) -> str:
    if type(value) is not str or len(value.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidFieldError(f"{name} must be text of at most {max_bytes} UTF-8 bytes")
    if not empty and not value:
        raise InvalidFieldError(f"{name} must not be empty")
    if any(ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise InvalidFieldError(f"{name} contains control characters or lone surrogates")
    return value


def name(value: object, field: str) -> str:
    return text(value, field, MAX_NAME_BYTES)


def unique_names(value: object, field: str, max_count: int) -> tuple[str, ...]:
    """A tuple of 1..max_count distinct names (each `name`: 1..64 UTF-8 bytes)."""
    if not isinstance(value, tuple):
        raise InvalidFieldError(f"{field} must be a tuple of names")
    if not 1 <= len(value) <= max_count:
        raise LimitExceededError(f"{field} holds 1..{max_count} names, got {len(value)}")
    for item in value:
        name(item, f"a name in {field}")
    if len(set(value)) != len(value):
        raise InvalidFieldError(f"{field} holds a name twice")
    return value


def optional_text(value: object, field: str, max_bytes: int = MAX_TEXT_BYTES) -> str | None:
    return None if value is None else text(value, field, max_bytes)


def finite(value: object, field: str) -> float:
    if type(value) is not float or not math.isfinite(value):
        raise InvalidFieldError(f"{field} must be a finite float, got {value!r}")
    return value


def optional_finite(value: object, field: str) -> float | None:
    return None if value is None else finite(value, field)


def flag(value: object, field: str) -> bool:
    if type(value) is not bool:
        raise InvalidFieldError(f"{field} must be true or false")
    return value
