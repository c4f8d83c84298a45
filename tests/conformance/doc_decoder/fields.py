"""The field rules of docs/protocol.md sections 5 and 7: the check of each value, the fields of
each kind and of an event, and steps 1-4 of section 5.1 that judge a body against them."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from typing import NamedTuple

from tests.conformance.doc_decoder.core import DECODER_MINOR, Q53, T54, U63, fail

_VENDOR_RE = re.compile(r"x_[a-z0-9]{1,16}_[a-z0-9_]{1,44}")


_Check = Callable[[object], object]


def _int(lo: int = 0, hi: int = U63) -> Callable[[object], int]:
    """``int`` in lo..hi; with the defaults, ``uint`` (booleans and floats are not integers)."""

    def check(v: object) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            fail("BAD_FIELD")
        return v

    return check


def _bytes(v: object) -> bytes:
    if not isinstance(v, bytes):
        fail("BAD_FIELD")
    return v


def _bool(v: object) -> bool:
    if not isinstance(v, bool):
        fail("BAD_FIELD")
    return v


def _bstr(lo: int, hi: int | None = None) -> _Check:
    def check(v: object) -> object:
        if not isinstance(v, bytes) or not lo <= len(v) <= (lo if hi is None else hi):
            fail("BAD_FIELD")
        return v

    return check


def _text(max_bytes: int, may_be_empty: bool = False) -> _Check:
    def check(v: object) -> object:
        if not isinstance(v, str):
            fail("BAD_FIELD")
        size = len(v.encode("utf-8"))
        if size > max_bytes or (size == 0 and not may_be_empty) or min(v, default=" ") < " ":
            fail("BAD_FIELD")
        return v

    return check


def _float(v: object) -> object:
    if isinstance(v, int) and not isinstance(v, bool):
        if abs(v) > Q53:
            fail("BAD_FIELD")
        return float(v)
    if not isinstance(v, float) or not math.isfinite(v):
        fail("BAD_FIELD")
    return v


def _ref(v: object) -> object:
    """A metric reference: standard code 1..65535 or vendor name (5.2, 18)."""
    if isinstance(v, str):
        if _VENDOR_RE.fullmatch(v) is None:
            fail("BAD_FIELD")
        return v
    return _int(1, 65535)(v)


def _tuple(*checks: _Check) -> _Check:
    """A fixed-shape array: exactly len(checks) items, each checked in order (``BAD_FIELD``)."""

    def check(v: object) -> object:
        if not isinstance(v, list) or len(v) != len(checks):
            fail("BAD_FIELD")
        return [each(x) for each, x in zip(checks, v, strict=True)]

    return check


def _array(lo: int, hi: int, each: _Check) -> _Check:
    def check(v: object) -> object:
        if not isinstance(v, list):
            fail("BAD_FIELD")
        if not lo <= len(v) <= hi:
            fail("LIMIT_EXCEEDED")
        return [each(x) for x in v]

    return check


_metric_key = _tuple(_ref, _int(0, 255))


class _Field(NamedTuple):
    name: str
    check: _Check
    required: bool = False
    minor: int = 0  # the minor version that introduced the field


_Fields = dict[int, _Field]
_COMMON: _Fields = {
    0: _Field("robot_id", _bstr(16), True),
    1: _Field("boot_id", _bstr(16), True),
    2: _Field("seq", _int(), True),
    3: _Field("prev_digest", _bstr(32), True),
    4: _Field("wall_us", _int(-T54, T54), True),
    5: _Field("mono_us", _int(0, T54), True),
}
_CHAINED = _COMMON  # kinds 1-3 carry all six common keys
_UNCHAINED = {k: _COMMON[k] for k in (0, 1, 4, 5)}  # status
_CLOUD = {k: _COMMON[k] for k in (0, 4)}  # config and ack


class Block(NamedTuple):
    codec: int
    width: int
    data: bytes


def _block(v: object) -> object:
    if not isinstance(v, list) or len(v) != 3:
        fail("BAD_FIELD")
    codec, width, data = _int()(v[0]), _int()(v[1]), _bytes(v[2])
    if codec not in (0, 1):
        fail("UNSUPPORTED_ENCODING")
    if width not in (1, 2, 4):
        fail("BAD_FIELD")
    return Block(codec, width, data)


def _exponents(v: object) -> object:
    raw = _bytes(v)
    exps = list(struct.unpack(f"{len(raw)}b", raw))
    if any(not -9 <= e <= 9 for e in exps):
        fail("BAD_FIELD")
    return exps


def _declaration(v: object) -> object:
    text16, text256 = _text(16, may_be_empty=True), _text(256, may_be_empty=True)
    declared = _tuple(_ref, _int(0, 255), _int(-9, 9), text16, text256)(v)
    assert isinstance(declared, list)
    if isinstance(declared[0], str) and declared[3] == "":
        fail("BAD_FIELD")  # a vendor metric's unit MUST NOT be empty
    return declared


def _collectors(v: object) -> object:
    names = _array(1, 32, _text(64))(v)
    assert isinstance(names, list)
    if len(set(names)) != len(names):
        fail("BAD_FIELD")
    return names


def _committed(v: object) -> object:
    ranges = _array(1, 64, _tuple(_int(), _int()))(v)
    assert isinstance(ranges, list)
    previous_last = -2
    for first, last in ranges:
        if first > last or first <= previous_last + 1:
            fail("BAD_FIELD")
        previous_last = last
    return ranges


_EVENT_FIELDS: _Fields = {
    0: _Field("kind", _int(1, 65535), True),
    1: _Field("mono_us", _int(0, T54), True),
    2: _Field("severity", _int(0, 3)),
    3: _Field("channel", _int(0, 255)),
    4: _Field("code", _text(64)),
    5: _Field("message", _text(256)),
    6: _Field("value", _float),
    7: _Field("threshold", _float),
    8: _Field("metric", _metric_key),
    9: _Field("from_version", _text(64)),
    10: _Field("to_version", _text(64)),
    11: _Field("public_key", _bstr(32), minor=2),
}
# section 7: required keys besides 0-1, by event kind, in this order
_NEEDS = {1: (4,), 2: (4,), 6: (8, 6), 7: (4,), 8: (4, 9, 10), 9: (4,), 10: (4,), 11: (4, 11)}

KIND_FIELDS: dict[int, _Fields] = {
    1: {
        **_CHAINED,
        10: _Field("t_base", _int(0, T54), True),
        11: _Field("t_block", _block, True),
        12: _Field("metric_refs", _array(0, 256, _ref), True),
        13: _Field("channels", _bytes, True),
        14: _Field("exponents", _exponents, True),
        15: _Field("bases", _bytes, True),
        16: _Field("v_block", _block, True),
    },
    2: {
        **_CHAINED,
        20: _Field("events", lambda v: v, True),  # judged by _events, which needs the minor
    },
    3: {
        **_CHAINED,
        30: _Field("first_seq", _int(), True),
        31: _Field("last_seq", _int(), True),
        32: _Field("digest_before", _bstr(32), True),
        33: _Field("last_digest", _bstr(32), True),
        34: _Field("reason", _int(1, 65535), True),
        35: _Field("dropped_bytes", _int(), True),
        36: _Field("dropped_samples", _int(), minor=1),
    },
    4: {
        **_UNCHAINED,
        40: _Field("state", _int(1, 255), True),
        41: _Field("firmware_version", _text(64)),
        42: _Field("agent_version", _text(64)),
        43: _Field("next_seq", _int()),
        44: _Field("catalogue", _array(0, 512, _declaration)),
        45: _Field("vendor", _text(64)),
        46: _Field("model", _text(64)),
        47: _Field("config_version", _int(), minor=1),
        48: _Field("connection_seq", _int(), minor=2),
        49: _Field("head_digest", _bstr(32), minor=2),
    },
    5: {
        **_CLOUD,
        50: _Field("config_version", _int(), True),
        51: _Field("sample_interval_ms", _int(10, 3_600_000)),
        52: _Field("batch_interval_s", _int(1, 3600)),
        53: _Field("compress", _bool),
        54: _Field("outbox_budget_bytes", _int(1_048_576, U63)),
        55: _Field("metrics", _array(0, 512, _metric_key)),
        56: _Field("read_interval_ms", _int(10, 60_000), minor=1),
        57: _Field("collectors", _collectors, minor=1),
        58: _Field("rotation_id", _int(1, U63), minor=2),
        59: _Field("rotation_credentials", _bstr(50, 512), minor=2),
    },
    6: {
        **_CLOUD,
        60: _Field("committed", _committed, True),
    },
}


def judge(body: dict[int | str, object], fields: _Fields, minor: int) -> dict[int, object]:
    """Steps 1-3 of section 5.1; returns the checked values of the present fields by key."""
    if minor <= DECODER_MINOR:  # step 1
        for key in body:
            field = fields.get(key) if isinstance(key, int) else None
            if field is None or field.minor > minor:
                fail("UNKNOWN_FIELD")
    for key in sorted(fields):  # step 2
        if fields[key].required and body.get(key) is None:
            fail("MISSING_FIELD")
    checked: dict[int, object] = {}
    for key in sorted(fields):  # step 3
        value = body.get(key)
        if value is not None:
            if fields is KIND_FIELDS[2] and key == 20:
                checked[key] = _events(value, minor)
            else:
                checked[key] = fields[key].check(value)
    return checked


def by_name(checked: dict[int, object], fields: _Fields) -> dict[str, object]:
    return {fields[k].name: v for k, v in checked.items()}


def _events(value: object, minor: int) -> object:
    if not isinstance(value, list):
        fail("BAD_FIELD")
    if not 1 <= len(value) <= 256:
        fail("LIMIT_EXCEEDED")
    events: list[dict[str, object]] = []
    for item in value:
        if not isinstance(item, dict):
            fail("BAD_FIELD")
        checked = judge(item, _EVENT_FIELDS, minor)
        kind = checked[0]
        assert isinstance(kind, int)
        for key in _NEEDS.get(kind, ()):  # step 4: the kind's requirements
            if key not in checked:
                fail("MISSING_FIELD")
        event = by_name(checked, _EVENT_FIELDS)
        event.setdefault("severity", 0)
        event.setdefault("channel", 0)
        events.append(event)
    return events
