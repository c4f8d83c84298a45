"""The one exception hierarchy of the protocol.

Every failure to decode or validate raises a `ProtocolError` carrying a stable `ErrorCode`.
The codes are part of the wire contract: golden vectors name them, the ingest logs them, and a
C implementation is expected to report the same code for the same input.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Why a payload, topic or message was refused. Values are stable across versions."""

    TOO_LARGE = "TOO_LARGE"
    TRUNCATED = "TRUNCATED"
    TRAILING_BYTES = "TRAILING_BYTES"
    BAD_MAGIC = "BAD_MAGIC"
    MALFORMED = "MALFORMED"
    UNSUPPORTED_MAJOR_VERSION = "UNSUPPORTED_MAJOR_VERSION"
    UNKNOWN_KIND = "UNKNOWN_KIND"
    MISSING_FIELD = "MISSING_FIELD"
    BAD_FIELD = "BAD_FIELD"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    UNSUPPORTED_ENCODING = "UNSUPPORTED_ENCODING"
    DECOMPRESSION_FAILED = "DECOMPRESSION_FAILED"
    DECOMPRESSION_BOMB = "DECOMPRESSION_BOMB"
    UNSIGNED = "UNSIGNED"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    BAD_KEY = "BAD_KEY"
    BAD_TOPIC = "BAD_TOPIC"
    KIND_TOPIC_MISMATCH = "KIND_TOPIC_MISMATCH"


class ProtocolError(Exception):
    """A refusal with a machine-readable `code` and a human `reason`."""

    default_code: ErrorCode = ErrorCode.MALFORMED

    def __init__(self, reason: str, code: ErrorCode | None = None) -> None:
        self.code: ErrorCode = code if code is not None else self.default_code
        self.reason = reason
        super().__init__(f"{self.code.value}: {reason}")


class MalformedPayloadError(ProtocolError):
    """The bytes are not a well-formed frame, CBOR item or JSON document."""

    default_code = ErrorCode.MALFORMED


class LimitExceededError(ProtocolError):
    """A size, count or nesting limit of `firmware_protocol.limits` was exceeded."""

    default_code = ErrorCode.LIMIT_EXCEEDED


class UnsupportedVersionError(ProtocolError):
    """The message's major version (or an encoding it uses) is not one we speak."""

    default_code = ErrorCode.UNSUPPORTED_MAJOR_VERSION


class InvalidFieldError(ProtocolError):
    """Well-formed, but a field is missing, of the wrong type or out of range."""

    default_code = ErrorCode.BAD_FIELD


class SignatureError(ProtocolError):
    """The message is unsigned where a signature is required, or the signature is wrong."""

    default_code = ErrorCode.BAD_SIGNATURE


class TopicError(ProtocolError):
    """An MQTT topic outside the `rc/v1/...` namespace, or one that disagrees with the payload."""

    default_code = ErrorCode.BAD_TOPIC
