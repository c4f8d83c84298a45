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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from firmware_protocol import _validate as v
from firmware_protocol.catalogue import VENDOR_NAME_RE, MetricKey, check_exponent
from firmware_protocol.errors import (
    ErrorCode,
    InvalidFieldError,
    LimitExceededError,
    UnsupportedVersionError,
)
from firmware_protocol.limits import (
    MAX_ACK_RANGES,
    MAX_CATALOGUE_ENTRIES,
    MAX_CHANNEL,
    MAX_CONFIG_COLLECTORS,
    MAX_CONFIG_METRICS,
    MAX_EVENTS_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_NAME_BYTES,
    MAX_QUANTIZED_MAGNITUDE,
    MAX_SEALED_BYTES,
    MAX_TIME_US,
    MAX_UINT,
    SEALED_OVERHEAD_BYTES,
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


# ---------------------------------------------------------------- a field's own rules


def _uint(name: str, maximum: int = MAX_UINT, minimum: int = 0) -> Convert:
    def check(value: Any) -> int:
        if type(value) is not int or not minimum <= value <= maximum:
            raise InvalidFieldError(f"{name} must be an integer in {minimum}..{maximum}")
        return value

    return check


def _time(name: str) -> Convert:
    return _uint(name, MAX_TIME_US)


def _wall(value: Any) -> int:
    if type(value) is not int or not -MAX_TIME_US <= value <= MAX_TIME_US:
        raise InvalidFieldError("wall_us must be an integer within +-2**54")
    return value


def _bytes(name: str, minimum: int = 0, maximum: int = MAX_SEALED_BYTES * 1024) -> Convert:
    """A byte string of minimum..maximum bytes (the default maximum exceeds any payload)."""

    def check(value: Any) -> bytes:
        return v.byte_string(value, name, minimum, maximum)

    return check


def _digest(name: str) -> Convert:
    return _bytes(name, 32, 32)


def _uuid(value: Any) -> uuid.UUID:
    if type(value) is not bytes or len(value) != 16:
        raise InvalidFieldError("a UUID field must be 16 bytes")
    return uuid.UUID(bytes=value)


def _text(name: str, max_bytes: int, *, empty: bool = False) -> Convert:
    def check(value: Any) -> str:
        return v.text(value, name, max_bytes, empty=empty)

    return check


def _float(name: str) -> Convert:
    """A float, or an integer of magnitude <= 2**53 (C encoders may shorten 85.0 to 85)."""

    def check(value: Any) -> float:
        if type(value) is int and abs(value) <= MAX_QUANTIZED_MAGNITUDE:
            value = float(value)
        return v.finite(value, name)

    return check


def _flag(value: Any) -> bool:
    return v.flag(value, "compress")


def array(value: Any, minimum: int, maximum: int, what: str) -> list[Any]:
    """An array whose length is outside its range is LIMIT_EXCEEDED, too short or too long."""
    if type(value) is not list:
        raise InvalidFieldError(f"{what} must be an array")
    if not minimum <= len(value) <= maximum:
        raise LimitExceededError(f"{what} holds {minimum}..{maximum} entries, got {len(value)}")
    return value


def metric_ref(ref: Any) -> int | str:
    """A standard metric code 1..65535, or a vendor metric name x_{vendor}_{metric}."""
    if type(ref) is int and 1 <= ref <= 0xFFFF:
        return ref
    if type(ref) is str and VENDOR_NAME_RE.fullmatch(ref) is not None:
        return ref
    raise InvalidFieldError(f"metric ref {ref!r} is not a code 1..65535 or x_{{vendor}}_{{name}}")


def key_from_cbor(value: Any) -> MetricKey:
    if type(value) is not list or len(value) != 2:
        raise InvalidFieldError("a metric key must be [ref, channel]")
    ref, channel = value
    metric_ref(ref)
    if type(channel) is not int or not 0 <= channel <= MAX_CHANNEL:
        raise InvalidFieldError("a metric key's channel must be an integer in 0..255")
    return MetricKey.from_wire(ref, channel)


def key_to_cbor(key: MetricKey) -> list[Any]:
    return [key.wire_ref, key.channel]


def key_from_json(value: Any) -> MetricKey:
    if type(value) is not str:
        raise InvalidFieldError("a metric key must be text such as joint_temperature_c.3")
    return MetricKey.parse(value)


def _keys(convert: Convert) -> Convert:
    return lambda value: tuple(
        convert(k) for k in array(value, 0, MAX_CONFIG_METRICS, "config metrics")
    )


def _names(value: Any) -> tuple[str, ...]:
    names = array(value, 1, MAX_CONFIG_COLLECTORS, "collectors")
    return v.unique_names(tuple(names), "collectors", MAX_CONFIG_COLLECTORS)


def _ranges_in(value: Any) -> tuple[SeqRange, ...]:
    ranges: list[SeqRange] = []
    for item in array(value, 1, MAX_ACK_RANGES, "committed"):
        if type(item) is not list or len(item) != 2:
            raise InvalidFieldError("a committed range must be [first, last]")
        first, last = (_uint("a range's first")(item[0]), _uint("a range's last")(item[1]))
        if first > last:
            raise InvalidFieldError("a committed range needs first <= last")
        if ranges and first <= ranges[-1].last + 1:
            raise InvalidFieldError("committed ranges must be sorted, disjoint and not adjacent")
        ranges.append(SeqRange(first, last))
    return tuple(ranges)


def _ranges_out(ranges: tuple[SeqRange, ...]) -> list[list[int]]:
    return [[r.first, r.last] for r in ranges]


def _declaration(key: MetricKey, exponent: Any, unit: Any, description: Any) -> MetricDeclaration:
    if type(exponent) is not int:
        raise InvalidFieldError("a declared exponent must be an integer in -9..9")
    check_exponent(exponent)
    v.text(unit, "unit", 16, empty=True)
    v.text(description, "description", empty=True)
    return MetricDeclaration(key, exponent, unit, description)


def _decl_from_cbor(value: Any) -> MetricDeclaration:
    if type(value) is not list or len(value) != 5:
        raise InvalidFieldError("a metric declaration must be [ref, channel, exponent, unit, text]")
    return _declaration(key_from_cbor(value[:2]), value[2], value[3], value[4])


def _decl_to_cbor(decl: MetricDeclaration) -> list[Any]:
    return [*key_to_cbor(decl.key), decl.exponent, decl.unit, decl.description]


def _decl_from_json(value: Any) -> MetricDeclaration:
    if type(value) is not dict:
        raise InvalidFieldError("a metric declaration must be an object")
    key = key_from_json(value.get("key"))
    return _declaration(key, value.get("exp"), value.get("unit", ""), value.get("description", ""))


def _decl_to_json(decl: MetricDeclaration) -> dict[str, Any]:
    return {
        "key": str(decl.key),
        "exp": decl.exponent,
        "unit": decl.unit,
        "description": decl.description,
    }


def _decls(convert: Convert) -> Convert:
    return lambda value: tuple(
        convert(d) for d in array(value, 0, MAX_CATALOGUE_ENTRIES, "catalogue")
    )


def block(name: str) -> Convert:
    """A column block [codec, width, data]: its shape, then the codec, then the width."""

    def check(value: Any) -> tuple[int, int, bytes]:
        if type(value) is not list or len(value) != 3:
            raise InvalidFieldError(f"{name} must be [codec, width, bytes]")
        codec, width, data = value
        if not (_is_uint(codec) and _is_uint(width) and type(data) is bytes):
            raise InvalidFieldError(f"{name} must be [uint, uint, bytes]")
        if codec not in (0, 1):
            raise UnsupportedVersionError(
                f"{name} codec {codec} is not 0 or 1", ErrorCode.UNSUPPORTED_ENCODING
            )
        if width not in (1, 2, 4):
            raise InvalidFieldError(f"{name} width {width} is not 1, 2 or 4")
        return codec, width, data

    return check


def _is_uint(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_UINT


def _refs(value: Any) -> list[int | str]:
    return [metric_ref(ref) for ref in array(value, 0, MAX_METRICS_PER_BATCH, "metric_refs")]


def _exponents(value: Any) -> bytes:
    if type(value) is not bytes:
        raise InvalidFieldError("exponents must be a byte string")
    if any(9 < byte < 247 for byte in value):  # int8 outside -9..9
        raise InvalidFieldError("exponents must be int8 values in -9..9")
    return value


# ---------------------------------------------------------------- the tables


@dataclass(frozen=True, slots=True)
class Field:
    key: int
    name: str
    check: Convert = _same
    """The wire (CBOR) value to the Python value, refusing anything outside the field's rules."""
    to_cbor: Convert = _same
    from_json: Convert | None = None
    """The JSON debug form's value to the Python value; None: the same as `check`."""
    to_json: Convert = _same
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
    return Field(key, name, _uuid, lambda u: u.bytes, _uuid_from_text, str, required=True)


def _bytes_field(key: int, name: str, check: Convert, **options: Any) -> Field:
    return Field(key, name, check, _same, _hex(check), bytes.hex, **options)


def _key_field(key: int, name: str) -> Field:
    return Field(key, name, key_from_cbor, key_to_cbor, key_from_json, str)


ROBOT_ID, BOOT_ID = _uuid_field(0, "robot_id"), _uuid_field(1, "boot_id")
SEQ = Field(2, "seq", _uint("seq"), required=True)
PREV_DIGEST = _bytes_field(3, "prev_digest", _digest("prev_digest"), required=True)
WALL_US = Field(4, "wall_us", _wall, required=True)
MONO_US = Field(5, "mono_us", _time("mono_us"), required=True)
_CHAINED: Final = (ROBOT_ID, BOOT_ID, SEQ, PREV_DIGEST, WALL_US, MONO_US)

EVENT_FIELDS: Final = (
    Field(0, "kind", _uint("event kind", 0xFFFF, 1), required=True),
    Field(1, "mono_us", _time("event mono_us"), required=True),
    Field(2, "severity", _uint("severity", 3)),
    Field(3, "channel", _uint("event channel", MAX_CHANNEL)),
    Field(4, "code", _text("event code", MAX_NAME_BYTES)),
    Field(5, "message", _text("event message", 256)),
    Field(6, "value", _float("event value")),
    Field(7, "threshold", _float("event threshold")),
    _key_field(8, "metric"),
    Field(9, "from_version", _text("from_version", MAX_NAME_BYTES)),
    Field(10, "to_version", _text("to_version", MAX_NAME_BYTES)),
    _bytes_field(11, "public_key", _digest("event public_key"), since=2),
)

_BINARY_TELEMETRY: Final = (
    Field(10, "t_base", _time("t_base"), required=True),
    Field(11, "t_block", block("t_block"), required=True),
    Field(12, "metric_refs", _refs, required=True),
    Field(13, "channels", _bytes("channels"), required=True),
    Field(14, "exponents", _exponents, required=True),
    Field(15, "bases", _bytes("bases"), required=True),
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
        Field(30, "first_seq", _uint("first_seq"), required=True),
        Field(31, "last_seq", _uint("last_seq"), required=True),
        _bytes_field(32, "digest_before", _digest("digest_before"), required=True),
        _bytes_field(33, "last_digest", _digest("last_digest"), required=True),
        Field(34, "reason", _uint("drop reason", 0xFFFF, 1), required=True),
        Field(35, "dropped_bytes", _uint("dropped_bytes"), required=True),
        Field(36, "dropped_samples", _uint("dropped_samples"), since=1),
    ),
    MessageKind.STATUS: (
        ROBOT_ID,
        BOOT_ID,
        WALL_US,
        MONO_US,
        Field(40, "state", _uint("state", 0xFF, 1), required=True),
        Field(41, "firmware_version", _text("firmware_version", MAX_NAME_BYTES)),
        Field(42, "agent_version", _text("agent_version", MAX_NAME_BYTES)),
        Field(43, "next_seq", _uint("next_seq")),
        Field(
            44,
            "catalogue",
            _decls(_decl_from_cbor),
            lambda ds: [_decl_to_cbor(d) for d in ds],
            _decls(_decl_from_json),
            lambda ds: [_decl_to_json(d) for d in ds],
        ),
        Field(45, "vendor", _text("vendor", MAX_NAME_BYTES)),
        Field(46, "model", _text("model", MAX_NAME_BYTES)),
        Field(47, "config_version", _uint("config_version"), since=1),
        Field(48, "connection_seq", _uint("connection_seq"), since=2),
        _bytes_field(49, "head_digest", _digest("head_digest"), since=2),
    ),
    MessageKind.CONFIG: (
        ROBOT_ID,
        WALL_US,
        Field(50, "config_version", _uint("config_version"), required=True),
        Field(51, "sample_interval_ms", _uint("sample_interval_ms", 3_600_000, 10)),
        Field(52, "batch_interval_s", _uint("batch_interval_s", 3600, 1)),
        Field(53, "compress", _flag),
        Field(54, "outbox_budget_bytes", _uint("outbox_budget_bytes", minimum=1 << 20)),
        Field(
            55,
            "metrics",
            _keys(key_from_cbor),
            lambda ks: [key_to_cbor(k) for k in ks],
            _keys(key_from_json),
            lambda ks: [str(k) for k in ks],
        ),
        Field(56, "read_interval_ms", _uint("read_interval_ms", 60_000, 10), since=1),
        Field(57, "collectors", _names, list, _names, list, since=1),
        Field(58, "rotation_id", _uint("rotation_id", minimum=1), since=2),
        _bytes_field(
            59,
            "rotation_credentials",
            _bytes("rotation_credentials", SEALED_OVERHEAD_BYTES + 2, MAX_SEALED_BYTES),
            since=2,
        ),
    ),
    MessageKind.ACK: (
        ROBOT_ID,
        WALL_US,
        Field(60, "committed", _ranges_in, _ranges_out, _ranges_in, _ranges_out, required=True),
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
