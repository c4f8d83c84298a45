"""Field tables: how each message field appears in the CBOR body (integer key) and in the JSON
debug form (name), how its wire value converts to the Python value, and which minor version
introduced it.

Scalar range checks live in the message classes; converters here only check wire types.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from firmware_protocol.catalogue import MetricKey
from firmware_protocol.errors import ErrorCode, InvalidFieldError, LimitExceededError
from firmware_protocol.limits import (
    MAX_ACK_RANGES,
    MAX_CATALOGUE_ENTRIES,
    MAX_CONFIG_COLLECTORS,
    MAX_CONFIG_METRICS,
    MAX_EVENTS_PER_BATCH,
)
from firmware_protocol.messages import (
    Ack,
    Config,
    DropNotice,
    Event,
    EventBatch,
    EventKind,
    MessageKind,
    MetricDeclaration,
    SeqRange,
    Status,
)

Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _uuid_from_bytes(value: Any) -> uuid.UUID:
    if type(value) is not bytes or len(value) != 16:
        raise InvalidFieldError("a UUID field must be 16 bytes")
    return uuid.UUID(bytes=value)


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


def _hex_to_bytes(value: Any) -> bytes:
    if type(value) is not str or len(value) > 128:
        raise InvalidFieldError("a binary field must be hex text")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidFieldError("a binary field must be hex text") from None


def _to_float(value: Any) -> Any:
    """Accept an integer where a float is expected: C encoders may shorten 85.0 to 85."""
    if type(value) is int:
        if abs(value) > 2**53:
            raise InvalidFieldError("a float field holds an integer beyond 2**53")
        return float(value)
    return value


def _array(value: Any, limit: int, what: str) -> list[Any]:
    if type(value) is not list:
        raise InvalidFieldError(f"{what} must be an array")
    if len(value) > limit:
        raise LimitExceededError(f"{what} holds more than {limit} entries")
    return value


def key_from_cbor(value: Any) -> MetricKey:
    if type(value) is not list or len(value) != 2:
        raise InvalidFieldError("a metric key must be [ref, channel]")
    ref, channel = value
    if type(ref) not in (int, str) or type(channel) is not int:
        raise InvalidFieldError("a metric key must be [uint or text, uint]")
    return MetricKey.from_wire(ref, channel)


def key_to_cbor(key: MetricKey) -> list[Any]:
    return [key.wire_ref, key.channel]


def key_from_json(value: Any) -> MetricKey:
    if type(value) is not str:
        raise InvalidFieldError("a metric key must be text such as joint_temperature_c.3")
    return MetricKey.parse(value)


def _keys(convert: Convert) -> Convert:
    return lambda value: tuple(convert(k) for k in _array(value, MAX_CONFIG_METRICS, "metrics"))


def _names_in(value: Any) -> tuple[Any, ...]:
    return tuple(_array(value, MAX_CONFIG_COLLECTORS, "collectors"))


def _ranges_in(value: Any) -> tuple[SeqRange, ...]:
    ranges = []
    for item in _array(value, MAX_ACK_RANGES, "committed"):
        if type(item) is not list or len(item) != 2:
            raise InvalidFieldError("a committed range must be [first, last]")
        ranges.append(SeqRange(item[0], item[1]))
    return tuple(ranges)


def _ranges_out(ranges: tuple[SeqRange, ...]) -> list[list[int]]:
    return [[r.first, r.last] for r in ranges]


def _decl_from_cbor(value: Any) -> MetricDeclaration:
    if type(value) is not list or len(value) != 5:
        raise InvalidFieldError("a metric declaration must be [ref, channel, exponent, unit, text]")
    return MetricDeclaration(key_from_cbor(value[:2]), value[2], value[3], value[4])


def _decl_to_cbor(decl: MetricDeclaration) -> list[Any]:
    return [*key_to_cbor(decl.key), decl.exponent, decl.unit, decl.description]


def _decl_from_json(value: Any) -> MetricDeclaration:
    if type(value) is not dict:
        raise InvalidFieldError("a metric declaration must be an object")
    exponent: Any = value.get("exp")
    return MetricDeclaration(
        key_from_json(value.get("key")),
        exponent,
        value.get("unit", ""),
        value.get("description", ""),
    )


def _decl_to_json(decl: MetricDeclaration) -> dict[str, Any]:
    return {
        "key": str(decl.key),
        "exp": decl.exponent,
        "unit": decl.unit,
        "description": decl.description,
    }


def _decls(convert: Convert) -> Convert:
    return lambda value: tuple(
        convert(d) for d in _array(value, MAX_CATALOGUE_ENTRIES, "catalogue")
    )


@dataclass(frozen=True, slots=True)
class Field:
    key: int
    name: str
    from_cbor: Convert = _same
    to_cbor: Convert = _same
    from_json: Convert = _same
    to_json: Convert = _same
    since: int = 0
    """The minor version that introduced the field: a message of an older minor cannot carry it."""


def _uuid_field(key: int, name: str) -> Field:
    return Field(key, name, _uuid_from_bytes, lambda u: u.bytes, _uuid_from_text, str)


def _digest_field(key: int, name: str) -> Field:
    return Field(key, name, _same, _same, _hex_to_bytes, bytes.hex)


def _float_field(key: int, name: str) -> Field:
    return Field(key, name, _to_float, _same, _to_float, _same)


def _key_field(key: int, name: str) -> Field:
    return Field(key, name, key_from_cbor, key_to_cbor, key_from_json, str)


def _list_field(key: int, name: str, cbor_item: Convert, json_item: Convert) -> Field:
    return Field(
        key,
        name,
        _same,
        lambda xs: [cbor_item(x) for x in xs],
        _same,
        lambda xs: [json_item(x) for x in xs],
    )


ROBOT_ID, BOOT_ID = _uuid_field(0, "robot_id"), _uuid_field(1, "boot_id")
SEQ, PREV_DIGEST = Field(2, "seq"), _digest_field(3, "prev_digest")
WALL_US, MONO_US = Field(4, "wall_us"), Field(5, "mono_us")
_CHAINED: Final = (ROBOT_ID, BOOT_ID, SEQ, PREV_DIGEST, WALL_US, MONO_US)

EVENT_FIELDS: Final = (
    Field(0, "kind"),
    Field(1, "mono_us"),
    Field(2, "severity"),
    Field(3, "channel"),
    Field(4, "code"),
    Field(5, "message"),
    _float_field(6, "value"),
    _float_field(7, "threshold"),
    _key_field(8, "metric"),
    Field(9, "from_version"),
    Field(10, "to_version"),
)

TELEMETRY_FIELDS: Final = _CHAINED
"""Only the scalar fields: the column blocks (keys 10-16) are handled by the codec itself."""
TELEMETRY_BLOCK_KEYS: Final = frozenset(range(10, 17))

FIELDS: Final[dict[MessageKind, tuple[Field, ...]]] = {
    MessageKind.TELEMETRY: TELEMETRY_FIELDS,
    MessageKind.EVENTS: (*_CHAINED, Field(20, "events")),
    MessageKind.DROP_NOTICE: (
        *_CHAINED,
        Field(30, "first_seq"),
        Field(31, "last_seq"),
        _digest_field(32, "digest_before"),
        _digest_field(33, "last_digest"),
        Field(34, "reason"),
        Field(35, "dropped_bytes"),
        Field(36, "dropped_samples", since=1),
    ),
    MessageKind.STATUS: (
        ROBOT_ID,
        BOOT_ID,
        WALL_US,
        MONO_US,
        Field(40, "state"),
        Field(41, "firmware_version"),
        Field(42, "agent_version"),
        Field(43, "next_seq"),
        Field(
            44,
            "catalogue",
            _decls(_decl_from_cbor),
            lambda ds: [_decl_to_cbor(d) for d in ds],
            _decls(_decl_from_json),
            lambda ds: [_decl_to_json(d) for d in ds],
        ),
        Field(45, "vendor"),
        Field(46, "model"),
        Field(47, "config_version", since=1),
    ),
    MessageKind.CONFIG: (
        ROBOT_ID,
        WALL_US,
        Field(50, "config_version"),
        Field(51, "sample_interval_ms"),
        Field(52, "batch_interval_s"),
        Field(53, "compress"),
        Field(54, "outbox_budget_bytes"),
        Field(
            55,
            "metrics",
            _keys(key_from_cbor),
            lambda ks: [key_to_cbor(k) for k in ks],
            _keys(key_from_json),
            lambda ks: [str(k) for k in ks],
        ),
        Field(56, "read_interval_ms", since=1),
        Field(57, "collectors", _names_in, list, _names_in, list, since=1),
    ),
    MessageKind.ACK: (
        ROBOT_ID,
        WALL_US,
        Field(60, "committed", _ranges_in, _ranges_out, _ranges_in, _ranges_out),
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
}
"""Event kinds added by a minor version. Decoders accept any kind in any minor (unknown kinds
were always kept as numbers); encoders use this to choose the minor they write."""

_LATER_FIELDS: Final = {
    kind: tuple(spec for spec in fields if spec.since) for kind, fields in FIELDS.items()
}


def minor_of(message: Any) -> int:
    """The lowest minor version that can express `message`: the one encoders write, so that a
    message using no later field or event kind encodes byte for byte as in 1.0."""
    kind = message.KIND
    used = [spec.since for spec in _LATER_FIELDS[kind] if getattr(message, spec.name) is not None]
    if kind == MessageKind.EVENTS:
        used += [EVENT_KIND_SINCE.get(event.kind, 0) for event in message.events]
    return max(used, default=0)


_REQUIRED: dict[type[Any], frozenset[str]] = {}


def required_names(cls: type[Any]) -> frozenset[str]:
    """Constructor arguments without a default; memoised (dataclasses.fields is slow)."""
    cached = _REQUIRED.get(cls)
    if cached is None:
        cached = _REQUIRED[cls] = _required_names(cls)
    return cached


def _required_names(cls: type[Any]) -> frozenset[str]:
    return frozenset(
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def read_fields(
    body: dict[Any, Any],
    fields: tuple[Field, ...],
    *,
    json: bool,
    strict: bool,
    minor: int,
    ignore: frozenset[Any] = frozenset(),
) -> dict[str, Any]:
    """Map a decoded body to constructor keyword arguments.

    `strict` (the message's minor version is not newer than ours) makes unknown keys an
    error; otherwise they are ignored, as the versioning rules require. A field introduced
    after the message's `minor` is unknown to it: a 1.0 message cannot carry a 1.1 key.
    """
    kwargs: dict[str, Any] = {}
    for spec in fields:
        if spec.since > minor:
            continue  # left in the body: refused as unknown below
        wire_key: Any = spec.name if json else spec.key
        if wire_key in body:
            raw = body[wire_key]
            if raw is None:
                continue  # null is "absent": C encoders may write it for an unset optional
            kwargs[spec.name] = (spec.from_json if json else spec.from_cbor)(raw)
    if strict:
        known = {spec.name if json else spec.key for spec in fields if spec.since <= minor}
        known |= ignore
        unknown = [k for k in body if k not in known]
        if unknown:
            raise InvalidFieldError(f"unknown field {unknown[0]!r}", ErrorCode.UNKNOWN_FIELD)
    return kwargs


def write_fields(message: Any, fields: tuple[Field, ...], *, json: bool) -> dict[Any, Any]:
    body: dict[Any, Any] = {}
    for spec in fields:
        value = getattr(message, spec.name)
        if value is None or (spec.name == "catalogue" and value == ()):
            continue
        body[spec.name if json else spec.key] = (spec.to_json if json else spec.to_cbor)(value)
    return body


def build(cls: type[Any], kwargs: dict[str, Any]) -> Any:
    missing = sorted(required_names(cls) - kwargs.keys())
    if missing:
        raise InvalidFieldError(f"{cls.__name__} lacks {missing[0]}", ErrorCode.MISSING_FIELD)
    return cls(**kwargs)


def events_from(value: Any, *, json: bool, strict: bool, minor: int) -> tuple[Event, ...]:
    events = []
    for item in _array(value, MAX_EVENTS_PER_BATCH, "events"):
        if type(item) is not dict:
            raise InvalidFieldError("an event must be a map")
        kwargs = read_fields(item, EVENT_FIELDS, json=json, strict=strict, minor=minor)
        events.append(build(Event, kwargs))
    return tuple(events)


def events_to(events: tuple[Event, ...], *, json: bool) -> list[dict[Any, Any]]:
    return [write_fields(e, EVENT_FIELDS, json=json) for e in events]
