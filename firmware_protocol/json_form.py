"""The JSON debug form: the same fields by name, readable with any MQTT client.

``{"rc": "1.0", "kind": "telemetry", "robot_id": "...", ...}``. Binary fields are lowercase hex,
ids are canonical UUID text, telemetry carries plain ``timestamps_us`` and ``metrics`` lists.

JSON messages are never signed: a signature needs one exact byte string, and JSON has no
canonical form that C firmware could reproduce reliably. They therefore carry no evidence:
`signing.verify` refuses them (UNSIGNED), and the ingest accepts them only where it is
configured to accept unsigned data (development tenants).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final, cast

from firmware_protocol import _schema
from firmware_protocol._json_telemetry import telemetry_json
from firmware_protocol.codec import (
    PROTOCOL_MAJOR,
    Decoded,
    Form,
    decode_body,
    message_minor,
    payload_digest,
)
from firmware_protocol.errors import (
    ErrorCode,
    InvalidFieldError,
    MalformedPayloadError,
    UnsupportedVersionError,
)
from firmware_protocol.messages import MessageKind
from firmware_protocol.rows import TelemetryRows

if TYPE_CHECKING:
    from firmware_protocol.messages import Message
    from firmware_protocol.telemetry import TelemetryBatch

_VERSION_RE: Final = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})")
_KIND_NAMES: Final = {kind.name.lower(): kind for kind in MessageKind}


def to_json(message: Message | TelemetryRows) -> bytes:
    """Render a message in the JSON debug form (UTF-8, compact). Its "rc" names the lowest
    minor version that can express the message, as a binary frame's header does."""
    kind = message.KIND
    document: dict[str, Any] = {
        "rc": f"{PROTOCOL_MAJOR}.{message_minor(message)}",
        "kind": kind.name.lower(),
    }
    document.update(_schema.write_fields(message, _schema.FIELDS[kind], json=True))
    if kind == MessageKind.TELEMETRY:
        document.update(telemetry_json(cast("TelemetryRows | TelemetryBatch", message)))
    elif kind == MessageKind.EVENTS:
        document["events"] = _schema.events_to(document["events"], json=True)
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(payload: bytes) -> Decoded:
    """Decode the JSON debug form. `payload` has passed codec.check_size."""
    try:
        document = json.loads(payload, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers invalid JSON and UTF-8, and integers too long to convert;
        # RecursionError, nesting deeper than the interpreter allows.
        raise MalformedPayloadError(f"invalid JSON: {str(exc)[:80]}") from None
    # The payload starts with "{", so a successful parse is an object (a dict).
    major, minor = _version(document.pop("rc", None))
    kind_name = document.pop("kind", None)
    if type(kind_name) is not str or kind_name not in _KIND_NAMES:
        raise InvalidFieldError(f"unknown message kind {kind_name!r}", ErrorCode.UNKNOWN_KIND)
    kind = _KIND_NAMES[kind_name]
    message = decode_body(kind, document, minor=minor, json=True)
    return Decoded(
        message=message,
        kind=kind,
        major=major,
        minor=minor,
        form=Form.JSON,
        signature=None,
        signed_data=b"",
        digest=payload_digest(payload),
    )


def _version(value: Any) -> tuple[int, int]:
    match = _VERSION_RE.fullmatch(value) if type(value) is str else None
    if match is None:
        raise InvalidFieldError(
            '"rc" must be the version text "major.minor"', ErrorCode.MISSING_FIELD
        )
    major, minor = int(match.group(1)), int(match.group(2))
    if major != PROTOCOL_MAJOR:
        raise UnsupportedVersionError(f"major version {major} is not supported (this decoder: 1)")
    return major, minor
