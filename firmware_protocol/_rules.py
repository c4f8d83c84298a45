"""Each field's own rules (docs/protocol.md sections 5.2 and 6-11): a wire value checked
completely on its own, type and range and the items of its array, and converted to its Python
value. Step 3 of decoding a body (see _schema)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from firmware_protocol import _validate as v
from firmware_protocol.catalogue import VENDOR_NAME_RE, MetricKey, check_exponent
from firmware_protocol.control import MetricDeclaration, SeqRange
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
    MAX_METRICS_PER_BATCH,
    MAX_PAYLOAD_BYTES,
    MAX_QUANTIZED_MAGNITUDE,
    MAX_TIME_US,
    MAX_UINT,
)

Convert = Callable[[Any], Any]


def same(value: Any) -> Any:
    return value


# ---------------------------------------------------------------- a field's own rules


def uint(name: str, maximum: int = MAX_UINT, minimum: int = 0) -> Convert:
    def check(value: Any) -> int:
        if type(value) is not int or not minimum <= value <= maximum:
            raise InvalidFieldError(f"{name} must be an integer in {minimum}..{maximum}")
        return value

    return check


def time_value(name: str) -> Convert:
    return uint(name, MAX_TIME_US)


def wall(value: Any) -> int:
    if type(value) is not int or not -MAX_TIME_US <= value <= MAX_TIME_US:
        raise InvalidFieldError("wall_us must be an integer within +-2**54")
    return value


def bytes_value(name: str, minimum: int = 0, maximum: int = MAX_PAYLOAD_BYTES) -> Convert:
    """A byte string of minimum..maximum bytes (by default any length a payload can hold)."""

    def check(value: Any) -> bytes:
        return v.byte_string(value, name, minimum, maximum)

    return check


def digest(name: str) -> Convert:
    return bytes_value(name, 32, 32)


def uuid_value(value: Any) -> uuid.UUID:
    if type(value) is not bytes or len(value) != 16:
        raise InvalidFieldError("a UUID field must be 16 bytes")
    return uuid.UUID(bytes=value)


def text_value(name: str, max_bytes: int, *, empty: bool = False) -> Convert:
    def check(value: Any) -> str:
        return v.text(value, name, max_bytes, empty=empty)

    return check


def float_value(name: str) -> Convert:
    """A float, or an integer of magnitude <= 2**53 (C encoders may shorten 85.0 to 85)."""

    def check(value: Any) -> float:
        if type(value) is int and abs(value) <= MAX_QUANTIZED_MAGNITUDE:
            value = float(value)
        return v.finite(value, name)

    return check


def flag(value: Any) -> bool:
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


def keys(convert: Convert) -> Convert:
    return lambda value: tuple(
        convert(k) for k in array(value, 0, MAX_CONFIG_METRICS, "config metrics")
    )


def names(value: Any) -> tuple[str, ...]:
    names = array(value, 1, MAX_CONFIG_COLLECTORS, "collectors")
    return v.unique_names(tuple(names), "collectors", MAX_CONFIG_COLLECTORS)


def ranges_in(value: Any) -> tuple[SeqRange, ...]:
    ranges: list[SeqRange] = []
    for item in array(value, 1, MAX_ACK_RANGES, "committed"):
        if type(item) is not list or len(item) != 2:
            raise InvalidFieldError("a committed range must be [first, last]")
        first, last = (uint("a range's first")(item[0]), uint("a range's last")(item[1]))
        if first > last:
            raise InvalidFieldError("a committed range needs first <= last")
        if ranges and first <= ranges[-1].last + 1:
            raise InvalidFieldError("committed ranges must be sorted, disjoint and not adjacent")
        ranges.append(SeqRange(first, last))
    return tuple(ranges)


def ranges_out(ranges: tuple[SeqRange, ...]) -> list[list[int]]:
    return [[r.first, r.last] for r in ranges]


def declaration(key: MetricKey, exponent: Any, unit: Any, description: Any) -> MetricDeclaration:
    if type(exponent) is not int:
        raise InvalidFieldError("a declared exponent must be an integer in -9..9")
    check_exponent(exponent)
    v.text(unit, "unit", 16, empty=True)
    v.text(description, "description", empty=True)
    return MetricDeclaration(key, exponent, unit, description)


def decl_from_cbor(value: Any) -> MetricDeclaration:
    if type(value) is not list or len(value) != 5:
        raise InvalidFieldError("a metric declaration must be [ref, channel, exponent, unit, text]")
    return declaration(key_from_cbor(value[:2]), value[2], value[3], value[4])


def decl_to_cbor(decl: MetricDeclaration) -> list[Any]:
    return [*key_to_cbor(decl.key), decl.exponent, decl.unit, decl.description]


def decl_from_json(value: Any) -> MetricDeclaration:
    if type(value) is not dict:
        raise InvalidFieldError("a metric declaration must be an object")
    key = key_from_json(value.get("key"))
    return declaration(key, value.get("exp"), value.get("unit", ""), value.get("description", ""))


def decl_to_json(decl: MetricDeclaration) -> dict[str, Any]:
    return {
        "key": str(decl.key),
        "exp": decl.exponent,
        "unit": decl.unit,
        "description": decl.description,
    }


def decls(convert: Convert) -> Convert:
    return lambda value: tuple(
        convert(d) for d in array(value, 0, MAX_CATALOGUE_ENTRIES, "catalogue")
    )


def block(name: str) -> Convert:
    """A column block [codec, width, data]: its shape, then the codec, then the width."""

    def check(value: Any) -> tuple[int, int, bytes]:
        if type(value) is not list or len(value) != 3:
            raise InvalidFieldError(f"{name} must be [codec, width, bytes]")
        codec, width, data = value
        if not (is_uint(codec) and is_uint(width) and type(data) is bytes):
            raise InvalidFieldError(f"{name} must be [uint, uint, bytes]")
        if codec not in (0, 1):
            raise UnsupportedVersionError(
                f"{name} codec {codec} is not 0 or 1", ErrorCode.UNSUPPORTED_ENCODING
            )
        if width not in (1, 2, 4):
            raise InvalidFieldError(f"{name} width {width} is not 1, 2 or 4")
        return codec, width, data

    return check


def is_uint(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_UINT


def refs(value: Any) -> list[int | str]:
    return [metric_ref(ref) for ref in array(value, 0, MAX_METRICS_PER_BATCH, "metric_refs")]


def exponents(value: Any) -> bytes:
    if type(value) is not bytes:
        raise InvalidFieldError("exponents must be a byte string")
    if any(9 < byte < 247 for byte in value):  # int8 outside -9..9
        raise InvalidFieldError("exponents must be int8 values in -9..9")
    return value
