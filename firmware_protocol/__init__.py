"""The wire contract between robot and cloud (protocol v1). See docs/protocol.md.

Imports nothing of robocover's and nothing server-side: cbor2, zstandard, PyNaCl and numpy
only, and each only when needed. The names below are loaded lazily (PEP 562), so
``import firmware_protocol`` costs next to nothing, and what a robot does (build and encode
messages, sign them with PyNaCl, decode its config and acks) never imports numpy: the robot's
telemetry is TelemetryRows (plain tuples) and the block encoder is pure Python. Only decoding
telemetry, on the cloud side, loads numpy, to return a TelemetryBatch of arrays. Typical use::

    # robot
    rows = TelemetryRows.from_values(robot_id=..., boot_id=..., seq=seq,
                                     prev_digest=prev_digest, wall_us=..., mono_us=...,
                                     timestamps_us=stamps, series={"motor_current_a.2": [...]})
    payload = encode(rows, signer)              # bytes for rc/v1/{tenant}/{robot}/telemetry
    prev_digest = payload_digest(payload)       # goes into the next chained message

    # cloud
    decoded = decode(payload, topic=Topic.parse(mqtt_topic))   # or ProtocolError
    verify(decoded, robot_public_key)                          # or SignatureError
    assessment = classify_link(decoded.link, same_seq_digest=..., predecessor_digest=...,
                               successor_prev_digest=...)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_protocol.catalogue import (
        STANDARD_METRICS,
        MetricKey,
        MetricKind,
        MetricSpec,
        spec_by_code,
        spec_by_name,
    )
    from firmware_protocol.chain import LinkAssessment, LinkVerdict, TamperReason, classify_link
    from firmware_protocol.codec import (
        PROTOCOL_MAJOR,
        PROTOCOL_MINOR,
        Decoded,
        Form,
        payload_digest,
    )
    from firmware_protocol.control import (
        Ack,
        Config,
        MetricDeclaration,
        RobotState,
        SeqRange,
        Status,
    )
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
        ChainedMessage,
        ChainLink,
        DropNotice,
        DropReason,
        Event,
        EventBatch,
        EventKind,
        Message,
        MessageKind,
        Severity,
    )
    from firmware_protocol.rows import (
        TelemetryRows,
    )
    from firmware_protocol.signing import (
        RobotSigner,
        load_public_key,
        seal_credentials,
        verify,
    )
    from firmware_protocol.telemetry import TelemetryBatch
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
    "TelemetryRows",
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
    "seal_credentials",
    "shared_subscription",
    "spec_by_code",
    "spec_by_name",
    "to_json",
    "topic_filter",
    "verify",
]

# Where each public name lives. TelemetryBatch (telemetry.py) is the only one that imports
# numpy; RobotSigner, load_public_key and verify (signing.py) load PyNaCl.
_MODULES: dict[str, tuple[str, ...]] = {
    "catalogue": (
        "STANDARD_METRICS",
        "MetricKey",
        "MetricKind",
        "MetricSpec",
        "spec_by_code",
        "spec_by_name",
    ),
    "chain": ("LinkAssessment", "LinkVerdict", "TamperReason", "classify_link"),
    "codec": ("PROTOCOL_MAJOR", "PROTOCOL_MINOR", "Decoded", "Form", "payload_digest"),
    "errors": (
        "ErrorCode",
        "InvalidFieldError",
        "LimitExceededError",
        "MalformedPayloadError",
        "ProtocolError",
        "SignatureError",
        "TopicError",
        "UnsupportedVersionError",
    ),
    "json_form": ("to_json",),
    "control": ("Ack", "Config", "MetricDeclaration", "RobotState", "SeqRange", "Status"),
    "rows": ("TelemetryRows",),
    "messages": (
        "ChainLink",
        "ChainedMessage",
        "DropNotice",
        "DropReason",
        "Event",
        "EventBatch",
        "EventKind",
        "Message",
        "MessageKind",
        "Severity",
    ),
    "signing": ("RobotSigner", "load_public_key", "seal_credentials", "verify"),
    "telemetry": ("TelemetryBatch",),
    "topics": ("Topic", "TopicKind", "shared_subscription", "topic_filter"),
    "wire": ("check_topic", "decode", "encode"),
}
_LAZY: dict[str, str] = {name: module for module, names in _MODULES.items() for name in names}

if not TYPE_CHECKING:  # mypy sees the real imports above, and no catch-all __getattr__

    def __getattr__(name: str) -> Any:
        """Import the submodule that defines `name` on first access (PEP 562)."""
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value  # later accesses are plain module attributes
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
