"""Binary frames: encode messages to bytes and decode any bytes to a message or a ProtocolError.

Frame layout (docs/protocol.md section 3)::

    offset  size  field
    0       2     magic "RC" (0x52 0x43)
    2       1     major version (1)
    3       1     minor version: the lowest that can express the message (message_minor)
    4       1     message kind (MessageKind)
    5       1     flags: bit 0 = signed; bits 1-7 reserved, zero
    6       4     body length L, unsigned big-endian
    10      L     body: one CBOR map (restricted subset, see _cbor.py)
    10+L    64    Ed25519 signature, present if and only if flag bit 0 is set
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, cast

import zstandard

from firmware_protocol import _cbor, _schema
from firmware_protocol.blocks import BlockCodec, encode_block
from firmware_protocol.catalogue import MetricKey
from firmware_protocol.errors import (
    ErrorCode,
    InvalidFieldError,
    LimitExceededError,
    MalformedPayloadError,
    ProtocolError,
    SignatureError,
    UnsupportedVersionError,
)
from firmware_protocol.limits import MAX_PAYLOAD_BYTES, MAX_SAMPLES_PER_BATCH
from firmware_protocol.messages import CHAINED_KINDS, ChainLink, MessageKind
from firmware_protocol.rows import TelemetryRows

if TYPE_CHECKING:
    from firmware_protocol.messages import Message
    from firmware_protocol.telemetry import TelemetryBatch

MAGIC: Final = b"RC"
PROTOCOL_MAJOR: Final = 1
PROTOCOL_MINOR: Final = 2
"""The newest minor this package speaks. Encoders write `message_minor(message)`, which is 0
for any message that 1.0 can express, so such messages encode byte for byte as in 1.0."""
HEADER: Final = struct.Struct(">2sBBBBI")
HEADER_BYTES: Final = HEADER.size  # 10
SIGNATURE_BYTES: Final = 64
FLAG_SIGNED: Final = 0x01
SIGNING_CONTEXT: Final = b"robocover/v1\x00"
"""Prefixed to the signed bytes so a robot key's signature means nothing in another protocol."""

ROBOT_TO_CLOUD: Final = frozenset(
    {MessageKind.TELEMETRY, MessageKind.EVENTS, MessageKind.DROP_NOTICE, MessageKind.STATUS}
)


class Form(StrEnum):
    BINARY = "binary"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded payload: the message plus what is needed to verify it and chain it."""

    message: Message
    kind: MessageKind
    major: int
    minor: int
    form: Form
    signature: bytes | None
    signed_data: bytes
    """SIGNING_CONTEXT + header + body: exactly the bytes the signature covers."""
    digest: bytes
    """SHA-256 of the whole payload as received; the next chained message's prev_digest."""

    @property
    def link(self) -> ChainLink | None:
        """The chain position of a telemetry, event or drop-notice message; else None."""
        if self.kind not in CHAINED_KINDS:
            return None
        message: Any = self.message
        return ChainLink(message.seq, self.digest, message.prev_digest)


def payload_digest(payload: bytes) -> bytes:
    """The chain digest of an encoded message: SHA-256 over every byte of the payload."""
    return hashlib.sha256(payload).digest()


# ---------------------------------------------------------------- encoding


def encode_body(message: Message | TelemetryRows, *, compress: bool = True) -> bytes:
    """The CBOR body of `message` (no frame)."""
    kind = message.KIND
    body = _schema.write_fields(message, _schema.FIELDS[kind], json=False)
    if isinstance(message, TelemetryRows):
        body.update(
            _telemetry_blocks(
                message.timestamps_us,
                message.keys,
                message.exponents,
                message.quantized,
                compress=compress,
            )
        )
    elif kind == MessageKind.TELEMETRY:
        # A TelemetryBatch: the same pure-Python encoder, over its arrays as lists of ints.
        batch = cast("TelemetryBatch", message)
        body.update(
            _telemetry_blocks(
                batch.timestamps_us.tolist(),
                batch.keys,
                batch.exponents,
                batch.quantized.tolist(),
                compress=compress,
            )
        )
    elif kind == MessageKind.EVENTS:
        body[20] = _schema.events_to(body[20], json=False)
    return _cbor.dumps(body)


def message_minor(message: Message | TelemetryRows) -> int:
    """The minor version an encoder writes for `message`: the lowest that can express it (0
    unless it uses a field or an event kind that a later minor introduced)."""
    return _schema.minor_of(message)


def frame_header(kind: MessageKind, body_length: int, *, signed: bool, minor: int) -> bytes:
    if not 0 <= minor <= PROTOCOL_MINOR:
        raise ValueError(f"minor version {minor} is not 0..{PROTOCOL_MINOR}")
    flags = FLAG_SIGNED if signed else 0
    return HEADER.pack(MAGIC, PROTOCOL_MAJOR, minor, kind, flags, body_length)


def _telemetry_blocks(
    stamps: Sequence[int],
    keys: Sequence[MetricKey],
    exponents: Sequence[int],
    rows: Sequence[Sequence[int]],
    *,
    compress: bool,
) -> dict[int, Any]:
    t_base = stamps[0]
    t_codec, t_width, t_data = encode_block((stamps,), (t_base,), compress=compress)
    bases = [row[0] for row in rows]
    v_codec, v_width, v_data = encode_block(rows, bases, compress=compress)
    return {
        10: t_base,
        11: [int(t_codec), t_width, t_data],
        12: [k.wire_ref for k in keys],
        13: bytes(k.channel for k in keys),
        14: struct.pack(f"<{len(exponents)}b", *exponents),
        15: struct.pack(f"<{len(bases)}q", *bases),
        16: [int(v_codec), v_width, v_data],
    }


# ---------------------------------------------------------------- decoding


def decode_binary(payload: bytes) -> Decoded:
    """Decode a binary frame. The signature is carried, not checked: see signing.verify."""
    if len(payload) < HEADER_BYTES:
        if payload[: len(MAGIC)] != MAGIC[: len(payload)]:
            raise MalformedPayloadError("payload does not start with 'RC'", ErrorCode.BAD_MAGIC)
        raise MalformedPayloadError("payload shorter than the 10-byte header", ErrorCode.TRUNCATED)
    magic, major, minor, kind_byte, flags, length = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise MalformedPayloadError("payload does not start with 'RC'", ErrorCode.BAD_MAGIC)
    if major != PROTOCOL_MAJOR:
        raise UnsupportedVersionError(f"major version {major} is not supported (this decoder: 1)")
    kind = _kind(kind_byte)
    if flags & ~FLAG_SIGNED:
        raise InvalidFieldError(f"reserved flag bits set in {flags:#04x}")
    signed = bool(flags & FLAG_SIGNED)
    end = HEADER_BYTES + length
    expected = end + (SIGNATURE_BYTES if signed else 0)
    if expected > len(payload):
        raise MalformedPayloadError(
            f"frame needs {expected} bytes, got {len(payload)}", ErrorCode.TRUNCATED
        )
    if expected < len(payload):
        raise MalformedPayloadError(
            f"{len(payload) - expected} bytes after the frame", ErrorCode.TRAILING_BYTES
        )
    if not signed and kind in ROBOT_TO_CLOUD:
        # Refused before parsing: unsigned robot data is worthless as evidence.
        raise SignatureError(f"{kind.name} messages must be signed", ErrorCode.UNSIGNED)
    body = _cbor.loads(payload[HEADER_BYTES:end])
    message = decode_body(kind, body, minor=minor, json=False)
    return Decoded(
        message=message,
        kind=kind,
        major=major,
        minor=minor,
        form=Form.BINARY,
        signature=payload[end:] if signed else None,
        signed_data=SIGNING_CONTEXT + payload[:end],
        digest=payload_digest(payload),
    )


def _kind(value: int) -> MessageKind:
    try:
        return MessageKind(value)
    except ValueError:
        raise InvalidFieldError(f"unknown message kind {value}", ErrorCode.UNKNOWN_KIND) from None


def decode_body(kind: MessageKind, body: Any, *, minor: int, json: bool) -> Message:
    """Build the message of `kind` from a decoded CBOR map (or JSON object), checking its rules
    in the order of docs/protocol.md section 5.1 (see _schema's module docstring)."""
    if type(body) is not dict:
        raise MalformedPayloadError("the body is not a map")
    strict = minor <= PROTOCOL_MINOR
    if kind == MessageKind.TELEMETRY:
        fields = _schema.JSON_TELEMETRY_FIELDS if json else _schema.FIELDS[kind]
        kwargs = _schema.read_fields(body, fields, json=json, strict=strict, minor=minor)
        # Imported on first use: numpy (~21 MB) is for decoding telemetry, which robots never do.
        from firmware_protocol import telemetry

        cls: type[Any] = telemetry.TelemetryBatch
        kwargs = telemetry.json_columns(kwargs) if json else telemetry.binary_columns(kwargs)
    else:
        kwargs = _schema.read_fields(
            body, _schema.FIELDS[kind], json=json, strict=strict, minor=minor
        )
        cls = _schema.MESSAGE_CLASSES[kind]
        if kind == MessageKind.EVENTS:
            kwargs["events"] = _schema.events_from(
                kwargs["events"], json=json, strict=strict, minor=minor
            )
    message: Message = _schema.build(cls, kwargs)
    return message


def sample_count(codec: int, width: int, data: bytes) -> int:
    """N, counted from the timestamp block: its raw size, or its zstd frame's content size."""
    if codec == BlockCodec.RAW:
        size = len(data)
    else:
        try:
            size = zstandard.frame_content_size(data)
        except zstandard.ZstdError:
            raise InvalidFieldError(
                "timestamp block is not a zstd frame", ErrorCode.DECOMPRESSION_FAILED
            ) from None
        if size < 0:
            raise InvalidFieldError("zstd frame does not declare its content size")
    if size // width > MAX_SAMPLES_PER_BATCH:
        raise LimitExceededError(f"more than {MAX_SAMPLES_PER_BATCH} samples")
    if size % width or size == 0:
        raise InvalidFieldError(f"timestamp block of {size} bytes is not whole samples")
    return size // width


def check_size(payload: object) -> bytes:
    """Any decoder entry point starts here: bytes only, bounded size, before any parsing."""
    if isinstance(payload, bytearray | memoryview):
        payload = bytes(payload)
    if type(payload) is not bytes:
        raise ProtocolError("payload must be bytes", ErrorCode.MALFORMED)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise LimitExceededError(
            f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}", ErrorCode.TOO_LARGE
        )
    if not payload:
        raise MalformedPayloadError("empty payload", ErrorCode.TRUNCATED)
    return payload
