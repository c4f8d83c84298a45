"""The wire contract between robot and cloud (protocol v1). See docs/protocol.md.

Imports nothing of robocover's and nothing server-side: cbor2, cryptography, numpy and
zstandard only. Typical use::

    # robot
    payload = encode(batch, signer)             # bytes for rc/v1/{tenant}/{robot}/telemetry
    prev_digest = payload_digest(payload)       # goes into the next chained message

    # cloud
    decoded = decode(payload, topic=Topic.parse(mqtt_topic))   # or ProtocolError
    verify(decoded, robot_public_key)                          # or SignatureError
    assessment = classify_link(decoded.link, same_seq_digest=..., predecessor_digest=...,
                               successor_prev_digest=...)
"""

from firmware_protocol.catalogue import (
    STANDARD_METRICS,
    MetricKey,
    MetricKind,
    MetricSpec,
    spec_by_code,
    spec_by_name,
)
from firmware_protocol.chain import LinkAssessment, LinkVerdict, TamperReason, classify_link
from firmware_protocol.codec import PROTOCOL_MAJOR, PROTOCOL_MINOR, Decoded, Form, payload_digest
from firmware_protocol.errors import (
    ErrorCode,
    InvalidFieldError,
    LimitExceededError,
    MalformedPayloadError,
    ProtocolError,
    SignatureError,
    TopicError,
    UnsupportedVersionError,
)
from firmware_protocol.json_form import to_json
from firmware_protocol.messages import (
    Ack,
    ChainedMessage,
    ChainLink,
    Config,
    DropNotice,
    DropReason,
    Event,
    EventBatch,
    EventKind,
    Message,
    MessageKind,
    MetricDeclaration,
    RobotState,
    SeqRange,
    Severity,
    Status,
    TelemetryBatch,
)
from firmware_protocol.signing import RobotSigner, load_public_key, verify
from firmware_protocol.topics import Topic, TopicKind, shared_subscription, topic_filter
from firmware_protocol.wire import check_topic, decode, encode

__all__ = [
    "PROTOCOL_MAJOR",
    "PROTOCOL_MINOR",
    "STANDARD_METRICS",
    "Ack",
    "ChainLink",
    "ChainedMessage",
    "Config",
    "Decoded",
    "DropNotice",
    "DropReason",
    "ErrorCode",
    "Event",
    "EventBatch",
    "EventKind",
    "Form",
    "InvalidFieldError",
    "LimitExceededError",
    "LinkAssessment",
    "LinkVerdict",
    "MalformedPayloadError",
    "Message",
    "MessageKind",
    "MetricDeclaration",
    "MetricKey",
    "MetricKind",
    "MetricSpec",
    "ProtocolError",
    "RobotSigner",
    "RobotState",
    "SeqRange",
    "Severity",
    "SignatureError",
    "Status",
    "TamperReason",
    "TelemetryBatch",
    "Topic",
    "TopicError",
    "TopicKind",
    "UnsupportedVersionError",
    "check_topic",
    "classify_link",
    "decode",
    "encode",
    "load_public_key",
    "payload_digest",
    "shared_subscription",
    "spec_by_code",
    "spec_by_name",
    "to_json",
    "topic_filter",
    "verify",
]
