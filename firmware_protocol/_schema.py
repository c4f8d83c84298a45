"""Field tables: each field's CBOR key and JSON name, its own rules, and the minor version that
introduced it. Decoding a body follows docs/protocol.md section 5.1, and so the first failing
rule in this order wins:

1. unknown keys (UNKNOWN_FIELD), in the body's order, unless the frame's minor is newer;
2. required keys absent or null (MISSING_FIELD), in ascending key order;
3. each present field's own rules (type, range, its array's length, the items of an array),
   in ascending key order: BAD_FIELD, LIMIT_EXCEEDED or UNSUPPORTED_ENCODING;
4. the rules that span fields, in the order the message class checks them.

Steps 1-3 are here; step 4 is the message classes' (and, for telemetry's column blocks,
telemetry.binary_columns'). A field's `check` validates a wire value completely on its own and
converts it; the classes check the same again when a message is built in Python.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any, Final

from firmware_protocol._rules import (
    Convert,
    array,
    block,
    bytes_value,
    decl_from_cbor,
    decl_from_json,
    decl_to_cbor,
    decl_to_json,
    decls,
    digest,
    exponents,
    flag,
    float_value,
    key_from_cbor,
    key_from_json,
    key_to_cbor,
    keys,
    names,
    ranges_in,
    ranges_out,
    refs,
    same,
    text_value,
    time_value,
    uint,
    uuid_value,
    wall,
)
from firmware_protocol.control import (
    Ack,
    Config,
    Status,
)
from firmware_protocol.errors import (
    ErrorCode,
    InvalidFieldError,
)
from firmware_protocol.limits import (
    MAX_CHANNEL,
    MAX_EVENTS_PER_BATCH,
    MAX_NAME_BYTES,
    MAX_SEALED_BYTES,
    SEALED_OVERHEAD_BYTES,
)
from firmware_protocol.messages import (
    DropNotice,
    Event,
    EventBatch,
    EventKind,
    MessageKind,
)

# ---------------------------------------------------------------- the tables


@dataclass(frozen=True, slots=True)
class Field:
    key: int
    name: str
    check: Convert = same
    """The wire (CBOR) value to the Python value, refusing anything outside the field's rules."""
    to_cbor: Convert = same
    from_json: Convert | None = None
    """The JSON debug form's value to the Python value; None: the same as `check`."""
    to_json: Convert = same
    since: int = 0
    """The minor version that introduced the field: a message of an older minor cannot carry it."""
    required: bool = False

    def read(self, value: Any, *, json: bool) -> Any:
        if json and self.from_json is not None:
            return self.from_json(value)
        return self.check(value)


def _uuid_from_text(value: Any) -> uuid.UUID:
    if type(value) is not str or len(value) != 36:
        raise InvalidFieldError("a UUID field must be canonical 36-character text")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise InvalidFieldError(f"{value!r} is not a UUID") from None
    if str(parsed) != value:
        raise InvalidFieldError(f"{value!r} is not lowercase canonical UUID text")
    return parsed


def _hex(check: Convert) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is not str or len(value) > 2 * MAX_SEALED_BYTES:
            raise InvalidFieldError("a binary field must be hex text")
        try:
            return check(bytes.fromhex(value))
        except ValueError:
            raise InvalidFieldError("a binary field must be hex text") from None

    return convert


def _uuid_field(key: int, name: str) -> Field:
    return Field(key, name, uuid_value, lambda u: u.bytes, _uuid_from_text, str, required=True)


def _bytes_field(key: int, name: str, check: Convert, **options: Any) -> Field:
    return Field(key, name, check, same, _hex(check), bytes.hex, **options)


def _key_field(key: int, name: str) -> Field:
    return Field(key, name, key_from_cbor, key_to_cbor, key_from_json, str)


ROBOT_ID, BOOT_ID = _uuid_field(0, "robot_id"), _uuid_field(1, "boot_id")
SEQ = Field(2, "seq", uint("seq"), required=True)
PREV_DIGEST = _bytes_field(3, "prev_digest", digest("prev_digest"), required=True)
WALL_US = Field(4, "wall_us", wall, required=True)
MONO_US = Field(5, "mono_us", time_value("mono_us"), required=True)
_CHAINED: Final = (ROBOT_ID, BOOT_ID, SEQ, PREV_DIGEST, WALL_US, MONO_US)

EVENT_FIELDS: Final = (
    Field(0, "kind", uint("event kind", 0xFFFF, 1), required=True),
    Field(1, "mono_us", time_value("event mono_us"), required=True),
    Field(2, "severity", uint("severity", 3)),
    Field(3, "channel", uint("event channel", MAX_CHANNEL)),
    Field(4, "code", text_value("event code", MAX_NAME_BYTES)),
    Field(5, "message", text_value("event message", 256)),
    Field(6, "value", float_value("event value")),
    Field(7, "threshold", float_value("event threshold")),
    _key_field(8, "metric"),
    Field(9, "from_version", text_value("from_version", MAX_NAME_BYTES)),
    Field(10, "to_version", text_value("to_version", MAX_NAME_BYTES)),
    _bytes_field(11, "public_key", digest("event public_key"), since=2),
)

_BINARY_TELEMETRY: Final = (
    Field(10, "t_base", time_value("t_base"), required=True),
    Field(11, "t_block", block("t_block"), required=True),
    Field(12, "metric_refs", refs, required=True),
    Field(13, "channels", bytes_value("channels"), required=True),
    Field(14, "exponents", exponents, required=True),
    Field(15, "bases", bytes_value("bases"), required=True),
    Field(16, "v_block", block("v_block"), required=True),
)
TELEMETRY_BLOCK_NAMES: Final = frozenset(f.name for f in _BINARY_TELEMETRY)
"""Telemetry's column fields: the codec turns them into arrays (telemetry.binary_columns)."""
JSON_TELEMETRY_FIELDS: Final = (
    *_CHAINED,
    Field(-1, "timestamps_us", required=True),
    Field(-2, "metrics", required=True),
)
"""The JSON debug form's telemetry: its columns are plain lists (telemetry.json_columns)."""


def _events(value: Any) -> Any:
    return array(value, 1, MAX_EVENTS_PER_BATCH, "events")


FIELDS: Final[dict[MessageKind, tuple[Field, ...]]] = {
    MessageKind.TELEMETRY: (*_CHAINED, *_BINARY_TELEMETRY),
    MessageKind.EVENTS: (*_CHAINED, Field(20, "events", _events, required=True)),
    MessageKind.DROP_NOTICE: (
        *_CHAINED,
        Field(30, "first_seq", uint("first_seq"), required=True),
        Field(31, "last_seq", uint("last_seq"), required=True),
        _bytes_field(32, "digest_before", digest("digest_before"), required=True),
        _bytes_field(33, "last_digest", digest("last_digest"), required=True),
        Field(34, "reason", uint("drop reason", 0xFFFF, 1), required=True),
        Field(35, "dropped_bytes", uint("dropped_bytes"), required=True),
        Field(36, "dropped_samples", uint("dropped_samples"), since=1),
    ),
    MessageKind.STATUS: (
        ROBOT_ID,
        BOOT_ID,
        WALL_US,
        MONO_US,
        Field(40, "state", uint("state", 0xFF, 1), required=True),
        Field(41, "firmware_version", text_value("firmware_version", MAX_NAME_BYTES)),
        Field(42, "agent_version", text_value("agent_version", MAX_NAME_BYTES)),
        Field(43, "next_seq", uint("next_seq")),
        Field(
            44,
            "catalogue",
            decls(decl_from_cbor),
            lambda ds: [decl_to_cbor(d) for d in ds],
            decls(decl_from_json),
            lambda ds: [decl_to_json(d) for d in ds],
        ),
        Field(45, "vendor", text_value("vendor", MAX_NAME_BYTES)),
        Field(46, "model", text_value("model", MAX_NAME_BYTES)),
        Field(47, "config_version", uint("config_version"), since=1),
        Field(48, "connection_seq", uint("connection_seq"), since=2),
        _bytes_field(49, "head_digest", digest("head_digest"), since=2),
    ),
    MessageKind.CONFIG: (
        ROBOT_ID,
        WALL_US,
        Field(50, "config_version", uint("config_version"), required=True),
        Field(51, "sample_interval_ms", uint("sample_interval_ms", 3_600_000, 10)),
        Field(52, "batch_interval_s", uint("batch_interval_s", 3600, 1)),
        Field(53, "compress", flag),
        Field(54, "outbox_budget_bytes", uint("outbox_budget_bytes", minimum=1 << 20)),
        Field(
            55,
            "metrics",
            keys(key_from_cbor),
            lambda ks: [key_to_cbor(k) for k in ks],
            keys(key_from_json),
            lambda ks: [str(k) for k in ks],
        ),
        Field(56, "read_interval_ms", uint("read_interval_ms", 60_000, 10), since=1),
        Field(57, "collectors", names, list, names, list, since=1),
        Field(58, "rotation_id", uint("rotation_id", minimum=1), since=2),
        _bytes_field(
            59,
            "rotation_credentials",
            bytes_value("rotation_credentials", SEALED_OVERHEAD_BYTES + 2, MAX_SEALED_BYTES),
            since=2,
        ),
    ),
    MessageKind.ACK: (
        ROBOT_ID,
        WALL_US,
        Field(60, "committed", ranges_in, ranges_out, ranges_in, ranges_out, required=True),
    ),
}


MESSAGE_CLASSES: Final[dict[MessageKind, type[Any]]] = {
    MessageKind.EVENTS: EventBatch,
    MessageKind.DROP_NOTICE: DropNotice,
    MessageKind.STATUS: Status,
    MessageKind.CONFIG: Config,
    MessageKind.ACK: Ack,
}
"""The class each kind decodes to, except TELEMETRY: its class, TelemetryBatch, is numpy, and
codec.decode_body imports it only when a telemetry message is decoded."""


EVENT_KIND_SINCE: Final[dict[int, int]] = {
    EventKind.CONFIG_APPLIED: 1,
    EventKind.CONFIG_REJECTED: 1,
    EventKind.KEY_ROTATED: 2,
}
"""Event kinds added by a minor version. Decoders accept any kind in any minor (unknown kinds
were always kept as numbers); encoders use this to choose the minor they write."""

_LATER_FIELDS: Final = {
    kind: tuple(spec for spec in fields if spec.since and spec.name not in TELEMETRY_BLOCK_NAMES)
    for kind, fields in FIELDS.items()
}
_LATER_EVENT_FIELDS: Final = tuple(spec for spec in EVENT_FIELDS if spec.since)


def minor_of(message: Any) -> int:
    """The lowest minor version that can express `message`: the one encoders write, so that a
    message using no later field or event kind encodes byte for byte as in 1.0."""
    kind = message.KIND
    used = [spec.since for spec in _LATER_FIELDS[kind] if getattr(message, spec.name) is not None]
    if kind == MessageKind.EVENTS:
        for event in message.events:
            used.append(EVENT_KIND_SINCE.get(event.kind, 0))
            used += [s.since for s in _LATER_EVENT_FIELDS if getattr(event, s.name) is not None]
    return max(used, default=0)


_REQUIRED: dict[type[Any], frozenset[str]] = {}


def required_names(cls: type[Any]) -> frozenset[str]:
    """Constructor arguments without a default; memoised (dataclasses.fields is slow)."""
    cached = _REQUIRED.get(cls)
    if cached is None:
        cached = _REQUIRED[cls] = frozenset(
            f.name
            for f in dataclasses.fields(cls)
            if f.init
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
    return cached


def read_fields(
    body: dict[Any, Any],
    fields: tuple[Field, ...],
    *,
    json: bool,
    strict: bool,
    minor: int,
) -> dict[str, Any]:
    """Steps 1-3 of the module docstring: a decoded body to constructor keyword arguments.

    `strict` (the message's minor version is not newer than ours) makes unknown keys an
    error; otherwise they are ignored, as the versioning rules require. A field introduced
    after the message's `minor` is unknown to it: a 1.0 message cannot carry a 1.1 key.
    """
    known = [spec for spec in fields if spec.since <= minor]
    wire = {(spec.name if json else spec.key): spec for spec in known}
    if strict:
        for key in body:
            if key not in wire:
                raise InvalidFieldError(f"unknown field {key!r}", ErrorCode.UNKNOWN_FIELD)
    for spec in known:
        if spec.required and body.get(spec.name if json else spec.key) is None:
            raise InvalidFieldError(f"{spec.name} is required", ErrorCode.MISSING_FIELD)
    kwargs: dict[str, Any] = {}
    for spec in known:
        raw = body.get(spec.name if json else spec.key)
        if raw is not None:  # null is "absent": C encoders may write it for an unset optional
            kwargs[spec.name] = spec.read(raw, json=json)
    return kwargs


def write_fields(message: Any, fields: tuple[Field, ...], *, json: bool) -> dict[Any, Any]:
    body: dict[Any, Any] = {}
    for spec in fields:
        if spec.name in TELEMETRY_BLOCK_NAMES:
            continue  # the codec writes the column blocks
        value = getattr(message, spec.name)
        if value is None or (spec.name == "catalogue" and value == ()):
            continue
        body[spec.name if json else spec.key] = (spec.to_json if json else spec.to_cbor)(value)
    return body


def build(cls: type[Any], kwargs: dict[str, Any]) -> Any:
    missing = sorted(required_names(cls) - kwargs.keys())
    if missing:  # pragma: no cover - read_fields refuses a missing required field first
        raise InvalidFieldError(f"{cls.__name__} lacks {missing[0]}", ErrorCode.MISSING_FIELD)
    return cls(**kwargs)


def events_from(value: Any, *, json: bool, strict: bool, minor: int) -> tuple[Event, ...]:
    """Each event map in order, wholly (steps 1-4 of the module docstring) before the next."""
    events = []
    for item in value:
        if type(item) is not dict:
            raise InvalidFieldError("an event must be a map")
        kwargs = read_fields(item, EVENT_FIELDS, json=json, strict=strict, minor=minor)
        events.append(build(Event, kwargs))
    return tuple(events)


def events_to(events: tuple[Event, ...], *, json: bool) -> list[dict[Any, Any]]:
    return [write_fields(e, EVENT_FIELDS, json=json) for e in events]
