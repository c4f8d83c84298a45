"""The entry points: `encode` a message, `decode` any payload, `check_topic` against its topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from firmware_protocol.codec import (
    HEADER_BYTES,
    MAGIC,
    PROTOCOL_MAJOR,
    ROBOT_TO_CLOUD,
    SIGNATURE_BYTES,
    SIGNING_CONTEXT,
    Decoded,
    check_size,
    decode_binary,
    encode_body,
    frame_header,
    message_minor,
)
from firmware_protocol.errors import ErrorCode, MalformedPayloadError, SignatureError, TopicError
from firmware_protocol.json_form import decode_json
from firmware_protocol.messages import MessageKind
from firmware_protocol.rows import TelemetryRows
from firmware_protocol.topics import Topic, TopicKind

if TYPE_CHECKING:
    from firmware_protocol.messages import Message
    from firmware_protocol.signing import RobotSigner

TOPIC_KINDS: dict[TopicKind, frozenset[MessageKind]] = {
    TopicKind.TELEMETRY: frozenset({MessageKind.TELEMETRY}),
    TopicKind.EVENTS: frozenset({MessageKind.EVENTS, MessageKind.DROP_NOTICE}),
    TopicKind.STATUS: frozenset({MessageKind.STATUS}),
    TopicKind.CONFIG: frozenset({MessageKind.CONFIG}),
    TopicKind.ACK: frozenset({MessageKind.ACK}),
}


def encode(
    message: Message | TelemetryRows,
    signer: RobotSigner | None = None,
    *,
    compress: bool = True,
) -> bytes:
    """Encode and (with a signer) sign. Robot-to-cloud kinds must be signed.

    The frame carries the lowest minor version that can express the message (`message_minor`):
    0 unless it uses a 1.1 field or event kind, so a 1.0 message encodes exactly as in 1.0.

    Telemetry may be a TelemetryRows (pure Python: what robots send) or a TelemetryBatch;
    both give the same bytes. Encoding imports no numpy.
    """
    if signer is None and message.KIND in ROBOT_TO_CLOUD:
        raise SignatureError(f"{message.KIND.name} messages must be signed", ErrorCode.UNSIGNED)
    body = encode_body(message, compress=compress)
    minor = message_minor(message)
    frame = frame_header(message.KIND, len(body), signed=signer is not None, minor=minor) + body
    if signer is None:
        return frame
    signature = signer.sign(SIGNING_CONTEXT + frame)
    if len(signature) != SIGNATURE_BYTES:  # pragma: no cover - Ed25519 invariant
        raise SignatureError("signer returned a signature that is not 64 bytes")
    return frame + signature


def decode(
    payload: bytes | bytearray | memoryview, *, topic: Topic | None = None, allow_json: bool = True
) -> Decoded:
    """Decode any byte string into a valid message, or raise a ProtocolError.

    A payload starting with ``{`` is the JSON debug form (refused if not `allow_json`).
    Signatures are not checked here: call `signing.verify` with the robot's key.
    With `topic`, the message must belong on it (see `check_topic`).
    """
    data = check_size(payload)
    if data[:1] == b"{":
        if not allow_json:
            raise MalformedPayloadError(
                "the JSON debug form is not accepted here", ErrorCode.BAD_MAGIC
            )
        decoded = decode_json(data)
    else:
        if topic is not None:
            _check_header_kind(data, topic)
        decoded = decode_binary(data)
    if topic is not None:
        check_topic(decoded, topic)
    return decoded


def _check_header_kind(data: bytes, topic: Topic) -> None:
    """Refuse a frame whose header names a kind that does not belong on `topic` before its body
    is parsed: a robot must not load the telemetry decoder (numpy) for what arrives on its ack
    or config topic. Malformed headers are left to decode_binary and its precise errors."""
    if len(data) < HEADER_BYTES or data[:2] != MAGIC or data[2] != PROTOCOL_MAJOR:
        return
    kind = data[4]
    if kind in MessageKind._value2member_map_ and kind not in TOPIC_KINDS[topic.kind]:
        raise TopicError(
            f"{MessageKind(kind).name} does not belong on a {topic.kind.value} topic",
            ErrorCode.KIND_TOPIC_MISMATCH,
        )


def check_topic(decoded: Decoded, topic: Topic) -> None:
    """The kind must belong on the topic and the robot id must be the topic's robot."""
    if decoded.kind not in TOPIC_KINDS[topic.kind]:
        raise TopicError(
            f"{decoded.kind.name} does not belong on a {topic.kind.value} topic",
            ErrorCode.KIND_TOPIC_MISMATCH,
        )
    if decoded.message.robot_id != topic.robot_id:
        raise TopicError(
            f"message robot {decoded.message.robot_id} published on robot {topic.robot}'s topic",
            ErrorCode.KIND_TOPIC_MISMATCH,
        )
