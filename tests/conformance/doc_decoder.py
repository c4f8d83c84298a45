"""Clean-room decoder of the robocover wire protocol 1.2, written from docs/protocol.md alone.

Binary form only. ``decode`` returns a plain dictionary (see the module's README in the brief)
or raises ``Refusal`` carrying one of the error codes of section 17; it raises nothing else.
"""

from __future__ import annotations

import itertools
import math
import re
import struct
from collections.abc import Callable
from typing import NamedTuple, NoReturn, cast

import zstandard

MAX_PAYLOAD = 262_144  # section 16
MAX_ITEMS = 16_384  # section 4
MAX_DEPTH = 8  # section 4
DECODER_MINOR = 2  # this document is 1.2
U63 = 2**63 - 1
T54 = 2**54
Q53 = 2**53

_VENDOR_RE = re.compile(r"x_[a-z0-9]{1,16}_[a-z0-9_]{1,44}")
_TENANT_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TOPIC_KINDS = {"telemetry": (1,), "events": (2, 3), "status": (4,), "config": (5,), "ack": (6,)}


class Refusal(Exception):  # noqa: N818 (the name is the brief's API)
    """A refusal; ``code`` is one of the error codes of section 17."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _fail(code: str) -> NoReturn:
    raise Refusal(code)


class _Cbor:
    """Strict reader of the CBOR subset of section 4, in reading order."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.items = 0

    def _take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            _fail("TRUNCATED")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def item(self, depth: int) -> object:
        """Read one item at ``depth`` (the body map is at depth 1), steps 1-7 of section 4."""
        self.items += 1  # step 1
        if self.items > MAX_ITEMS:
            _fail("LIMIT_EXCEEDED")
        if self.pos >= self.end:  # step 2
            _fail("TRUNCATED")
        initial = self.data[self.pos]
        self.pos += 1
        major, info = initial >> 5, initial & 31
        if major == 6:  # step 3
            _fail("MALFORMED")
        if major == 7:
            return self._simple(info)
        if major in (4, 5) and depth > MAX_DEPTH:  # step 4
            _fail("LIMIT_EXCEEDED")
        if info >= 28:  # step 5
            _fail("MALFORMED")
        arg = info if info < 24 else int.from_bytes(self._take(1 << (info - 24)), "big")
        if major <= 1:
            return arg if major == 0 else -1 - arg
        if major == 2:
            return self._take(arg)  # step 6 inside _take
        if major == 3:
            return self._text(self._take(arg))
        if major == 4:
            if arg > self.end - self.pos:  # step 6
                _fail("TRUNCATED")
            return [self.item(depth + 1) for _ in range(arg)]
        return self._map(arg, depth)

    @staticmethod
    def _text(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")  # strict: no surrogates, no overlong forms
        except UnicodeDecodeError:
            _fail("MALFORMED")

    def _map(self, pairs: int, depth: int) -> dict[int | str, object]:
        if 2 * pairs > self.end - self.pos:  # step 6
            _fail("TRUNCATED")
        result: dict[int | str, object] = {}
        for _ in range(pairs):
            key = self.item(depth + 1)
            # the key's type, then its repetition (an int never equals a str)
            if not isinstance(key, (int, str)) or isinstance(key, bool) or key in result:
                _fail("MALFORMED")
            result[key] = self.item(depth + 1)
        return result

    def _simple(self, info: int) -> object:
        if info in (20, 21, 22):
            return (False, True, None)[info - 20]
        fmt = {25: ">e", 26: ">f", 27: ">d"}.get(info)
        if fmt is None:  # other simple values, 0xf8, reserved 28-30, break 31
            _fail("MALFORMED")
        value: float = struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]
        return value


_Check = Callable[[object], object]


def _int(lo: int = 0, hi: int = U63) -> Callable[[object], int]:
    """``int`` in lo..hi; with the defaults, ``uint`` (booleans and floats are not integers)."""

    def check(v: object) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            _fail("BAD_FIELD")
        return v

    return check


def _bytes(v: object) -> bytes:
    if not isinstance(v, bytes):
        _fail("BAD_FIELD")
    return v


def _bool(v: object) -> bool:
    if not isinstance(v, bool):
        _fail("BAD_FIELD")
    return v


def _bstr(lo: int, hi: int | None = None) -> _Check:
    def check(v: object) -> object:
        if not isinstance(v, bytes) or not lo <= len(v) <= (lo if hi is None else hi):
            _fail("BAD_FIELD")
        return v

    return check


def _text(max_bytes: int, may_be_empty: bool = False) -> _Check:
    def check(v: object) -> object:
        if not isinstance(v, str):
            _fail("BAD_FIELD")
        size = len(v.encode("utf-8"))
        if size > max_bytes or (size == 0 and not may_be_empty) or min(v, default=" ") < " ":
            _fail("BAD_FIELD")
        return v

    return check


def _float(v: object) -> object:
    if isinstance(v, int) and not isinstance(v, bool):
        if abs(v) > Q53:
            _fail("BAD_FIELD")
        return float(v)
    if not isinstance(v, float) or not math.isfinite(v):
        _fail("BAD_FIELD")
    return v


def _ref(v: object) -> object:
    """A metric reference: standard code 1..65535 or vendor name (5.2, 18)."""
    if isinstance(v, str):
        if _VENDOR_RE.fullmatch(v) is None:
            _fail("BAD_FIELD")
        return v
    return _int(1, 65535)(v)


def _tuple(*checks: _Check) -> _Check:
    """A fixed-shape array: exactly len(checks) items, each checked in order (``BAD_FIELD``)."""

    def check(v: object) -> object:
        if not isinstance(v, list) or len(v) != len(checks):
            _fail("BAD_FIELD")
        return [each(x) for each, x in zip(checks, v, strict=True)]

    return check


def _array(lo: int, hi: int, each: _Check) -> _Check:
    def check(v: object) -> object:
        if not isinstance(v, list):
            _fail("BAD_FIELD")
        if not lo <= len(v) <= hi:
            _fail("LIMIT_EXCEEDED")
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


class _Block(NamedTuple):
    codec: int
    width: int
    data: bytes


def _block(v: object) -> object:
    if not isinstance(v, list) or len(v) != 3:
        _fail("BAD_FIELD")
    codec, width, data = _int()(v[0]), _int()(v[1]), _bytes(v[2])
    if codec not in (0, 1):
        _fail("UNSUPPORTED_ENCODING")
    if width not in (1, 2, 4):
        _fail("BAD_FIELD")
    return _Block(codec, width, data)


def _exponents(v: object) -> object:
    raw = _bytes(v)
    exps = list(struct.unpack(f"{len(raw)}b", raw))
    if any(not -9 <= e <= 9 for e in exps):
        _fail("BAD_FIELD")
    return exps


def _declaration(v: object) -> object:
    text16, text256 = _text(16, may_be_empty=True), _text(256, may_be_empty=True)
    declared = _tuple(_ref, _int(0, 255), _int(-9, 9), text16, text256)(v)
    assert isinstance(declared, list)
    if isinstance(declared[0], str) and declared[3] == "":
        _fail("BAD_FIELD")  # a vendor metric's unit MUST NOT be empty
    return declared


def _collectors(v: object) -> object:
    names = _array(1, 32, _text(64))(v)
    assert isinstance(names, list)
    if len(set(names)) != len(names):
        _fail("BAD_FIELD")
    return names


def _committed(v: object) -> object:
    ranges = _array(1, 64, _tuple(_int(), _int()))(v)
    assert isinstance(ranges, list)
    previous_last = -2
    for first, last in ranges:
        if first > last or first <= previous_last + 1:
            _fail("BAD_FIELD")
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

_KIND_FIELDS: dict[int, _Fields] = {
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


def _judge(body: dict[int | str, object], fields: _Fields, minor: int) -> dict[int, object]:
    """Steps 1-3 of section 5.1; returns the checked values of the present fields by key."""
    if minor <= DECODER_MINOR:  # step 1
        for key in body:
            field = fields.get(key) if isinstance(key, int) else None
            if field is None or field.minor > minor:
                _fail("UNKNOWN_FIELD")
    for key in sorted(fields):  # step 2
        if fields[key].required and body.get(key) is None:
            _fail("MISSING_FIELD")
    checked: dict[int, object] = {}
    for key in sorted(fields):  # step 3
        value = body.get(key)
        if value is not None:
            if fields is _KIND_FIELDS[2] and key == 20:
                checked[key] = _events(value, minor)
            else:
                checked[key] = fields[key].check(value)
    return checked


def _named(checked: dict[int, object], fields: _Fields) -> dict[str, object]:
    return {fields[k].name: v for k, v in checked.items()}


def _events(value: object, minor: int) -> object:
    if not isinstance(value, list):
        _fail("BAD_FIELD")
    if not 1 <= len(value) <= 256:
        _fail("LIMIT_EXCEEDED")
    events: list[dict[str, object]] = []
    for item in value:
        if not isinstance(item, dict):
            _fail("BAD_FIELD")
        checked = _judge(item, _EVENT_FIELDS, minor)
        kind = checked[0]
        assert isinstance(kind, int)
        for key in _NEEDS.get(kind, ()):  # step 4: the kind's requirements
            if key not in checked:
                _fail("MISSING_FIELD")
        event = _named(checked, _EVENT_FIELDS)
        event.setdefault("severity", 0)
        event.setdefault("channel", 0)
        events.append(event)
    return events


def _zstd_inflate(data: bytes, size: int) -> bytes:
    """Decompress one frame holding exactly ``size`` bytes; libzstd stops at ``size``."""
    if data[:4] != b"\x28\xb5\x2f\xfd":
        # Added after the clean-room report: section 6 now says a skippable frame is not a
        # zstd frame holding content (the report's item 15 had accepted one as 0 bytes).
        _fail("DECOMPRESSION_FAILED")
    try:
        stream = zstandard.ZstdDecompressor(max_window_size=1 << 31).decompressobj()
        out = stream.decompress(data)
        complete = stream.eof and not stream.unused_data
    except zstandard.ZstdError:
        _fail("DECOMPRESSION_FAILED")
    if not complete or len(out) != size:
        _fail("DECOMPRESSION_FAILED")
    return out


def _deltas(raw: bytes, width: int, codec: int, count: int) -> tuple[int, ...]:
    if codec == 1 and width > 1:
        unshuffled = bytearray(count * width)
        for b in range(width):
            unshuffled[b::width] = raw[b * count : (b + 1) * count]
        raw = bytes(unshuffled)
    fmt = {1: "b", 2: "h", 4: "i"}[width]
    deltas: tuple[int, ...] = struct.unpack(f"<{count}{fmt}", raw)
    return deltas


def _declared_size(codec: int, data: bytes) -> int:
    """The byte count a block declares: its data's for codec 0, its frame header's for 1."""
    if codec == 0:
        return len(data)
    try:
        size = zstandard.frame_content_size(data)  # libzstd's ZSTD_getFrameContentSize
    except zstandard.ZstdError:
        _fail("DECOMPRESSION_FAILED")
    if size < 0:
        _fail("BAD_FIELD")  # no declared content size
    return size


def _accumulate(bases: tuple[int, ...], deltas: tuple[int, ...], n: int) -> list[list[int]]:
    rows: list[list[int]] = []
    for r, base in enumerate(bases):
        row = list(itertools.accumulate(deltas[r * n : (r + 1) * n], initial=base))
        rows.append(row[1:])
    return rows


def _telemetry(c: dict[int, object]) -> dict[str, object]:
    """Section 6.1, steps 2-9 (step 1, the genesis rule, is run by the caller)."""
    t_base, refs, exps = cast("int", c[10]), cast("list[object]", c[12]), cast("list[int]", c[14])
    channels, bases = cast("bytes", c[13]), cast("bytes", c[15])
    t_codec, t_width, t_data = cast("_Block", c[11])
    v_codec, v_width, v_data = cast("_Block", c[16])
    m = len(refs)
    if len(channels) != m or len(exps) != m or len(bases) != 8 * m:  # step 2
        _fail("BAD_FIELD")
    size = _declared_size(t_codec, t_data)  # step 3
    if size // t_width > 4096:
        _fail("LIMIT_EXCEEDED")
    if size == 0 or size % t_width:
        _fail("BAD_FIELD")
    n = size // t_width
    if m * n > 65_536:  # step 4
        _fail("LIMIT_EXCEEDED")
    t_raw = t_data if t_codec == 0 else _zstd_inflate(t_data, size)  # step 5
    expected = m * n * v_width  # step 6
    declared = _declared_size(v_codec, v_data)
    if v_codec == 1 and declared > expected:
        _fail("DECOMPRESSION_BOMB")
    if declared != expected:
        _fail("BAD_FIELD")
    v_raw = v_data if v_codec == 0 else _zstd_inflate(v_data, declared)
    (timestamps,) = _accumulate((t_base,), _deltas(t_raw, t_width, t_codec, n), n)  # step 7
    if any(a >= b for a, b in itertools.pairwise(timestamps)):
        _fail("BAD_FIELD")
    if timestamps[0] < 0 or timestamps[-1] > T54:
        _fail("BAD_FIELD")
    base_values = struct.unpack(f"<{m}q", bases)  # step 8
    rows = _accumulate(base_values, _deltas(v_raw, v_width, v_codec, m * n), n)
    if any(abs(x) > Q53 for row in rows for x in row):
        _fail("LIMIT_EXCEEDED")
    if len(set(zip(refs, channels, strict=True))) != m:  # step 9
        _fail("BAD_FIELD")
    metrics: list[dict[str, object]] = [
        {"ref": refs[r], "channel": channels[r], "exp": exps[r], "q": rows[r]} for r in range(m)
    ]
    return {"timestamps_us": timestamps, "metrics": metrics}


def _body_fields(kind: int, body: dict[int | str, object], minor: int) -> dict[str, object]:
    """Section 5.1 for a body of ``kind``: steps 1-3, then the rules across fields (step 4)."""
    fields = _KIND_FIELDS[kind]
    c = _judge(body, fields, minor)
    if kind <= 3 and c[2] == 0 and c[3] != bytes(32):  # every chained kind: genesis
        _fail("BAD_FIELD")
    if kind == 3 and not cast("int", c[30]) <= cast("int", c[31]) < cast("int", c[2]):
        _fail("BAD_FIELD")
    if kind == 4:  # firmware_version, agent_version, next_seq when ONLINE; head_digest's
        needed = ((41, 42, 43) if c[40] == 1 else ()) + ((43,) if 49 in c else ())
        if any(key not in c for key in needed):
            _fail("MISSING_FIELD")
        if 49 in c and c[43] == 0:
            _fail("BAD_FIELD")
        if c.get(44) == []:
            del c[44]  # the brief: omit an empty catalogue
    if kind == 5 and 59 in c and 58 not in c:
        _fail("MISSING_FIELD")
    if kind != 1:
        return _named(c, fields)
    named = _named({k: v for k, v in c.items() if k < 10}, fields)
    named.update(_telemetry(c))
    return named


def _header(payload: bytes) -> tuple[int, int, bool, int]:
    """Steps 1-10 of section 3: minor, kind, signed, L."""
    size = len(payload)
    if size > MAX_PAYLOAD:
        _fail("TOO_LARGE")
    if size == 0:
        _fail("TRUNCATED")
    if payload[0] == 0x7B:  # '{': the JSON debug form is not accepted here
        _fail("BAD_MAGIC")
    if size < 10:
        _fail("BAD_MAGIC" if payload[:2] != b"RC"[:size] else "TRUNCATED")
    if payload[:2] != b"RC":
        _fail("BAD_MAGIC")
    if payload[2] != 1:
        _fail("UNSUPPORTED_MAJOR_VERSION")
    minor, kind, flags = payload[3], payload[4], payload[5]
    if not 1 <= kind <= 6:
        _fail("UNKNOWN_KIND")
    if flags & 0xFE:
        _fail("BAD_FIELD")
    signed = bool(flags & 1)
    length = int.from_bytes(payload[6:10], "big")
    total = 10 + length + (64 if signed else 0)
    if size != total:
        _fail("TRUNCATED" if size < total else "TRAILING_BYTES")
    if kind <= 4 and not signed:
        _fail("UNSIGNED")
    return minor, kind, signed, length


def _frame(payload: bytes) -> dict[str, object]:
    """Sections 3-11, without a topic."""
    minor, kind, signed, length = _header(payload)
    reader = _Cbor(payload[10 : 10 + length])
    body = reader.item(1)
    if reader.pos != reader.end:
        _fail("TRAILING_BYTES")
    if not isinstance(body, dict):
        _fail("MALFORMED")
    return {
        "kind": kind,
        "minor": minor,
        "signed": signed,
        "signature": payload[10 + length :] if signed else None,
        "fields": _body_fields(kind, body, minor),
    }


def _topic(topic: str) -> tuple[tuple[int, ...], bytes]:
    """Section 2: the kinds the topic may carry and its robot's 16 bytes (else ``BAD_TOPIC``)."""
    levels = topic.split("/")
    if (
        len(topic) > 128
        or len(levels) != 5
        or levels[:2] != ["rc", "v1"]
        or levels[4] not in _TOPIC_KINDS
        or _TENANT_RE.fullmatch(levels[2]) is None
        or _UUID_RE.fullmatch(levels[3]) is None
    ):
        _fail("BAD_TOPIC")
    return _TOPIC_KINDS[levels[4]], bytes.fromhex(levels[3].replace("-", ""))


def decode(payload: bytes, topic: str | None = None) -> dict[str, object]:
    """Decode one MQTT payload (binary form); with ``topic``, judge it against the topic."""
    payload = bytes(payload)
    if topic is None:
        return _frame(payload)
    kinds, robot = _topic(topic)
    if len(payload) > MAX_PAYLOAD:
        _fail("TOO_LARGE")
    header_ok = len(payload) >= 10 and payload[:3] == b"RC\x01" and 1 <= payload[4] <= 6
    if header_ok and payload[4] not in kinds:
        _fail("KIND_TOPIC_MISMATCH")
    message = _frame(payload)
    fields = message["fields"]
    assert isinstance(fields, dict)
    if message["kind"] not in kinds or fields.get("robot_id") != robot:
        _fail("KIND_TOPIC_MISMATCH")
    return message
