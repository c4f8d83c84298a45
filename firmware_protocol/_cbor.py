"""A strict reader for the CBOR subset the protocol uses (RFC 8949, restricted).

Why not ``cbor2.loads``: it decodes semantic tags into arbitrary Python objects (bigfloats,
decimals, datetimes, regular expressions), silently ignores trailing bytes and accepts duplicate
keys. This reader accepts exactly the subset in docs/protocol.md section 4 and nothing else:
unsigned and negative integers (64-bit), byte and text strings, arrays, maps with integer or text
keys (no duplicates), false, true, null, and 16/32/64-bit floats; definite lengths only; no tags.
Every declared length is checked against the bytes remaining before anything is allocated, and
depth and item count are bounded, so time and memory are linear in the input size.

Encoding uses cbor2 (fast, and always produces definite, shortest-form items).
"""

from __future__ import annotations

import struct
from typing import Any, Final

import cbor2

from firmware_protocol.errors import ErrorCode, LimitExceededError, MalformedPayloadError
from firmware_protocol.limits import MAX_CBOR_DEPTH, MAX_CBOR_ITEMS

_UNPACK_H: Final = struct.Struct(">H").unpack_from
_UNPACK_I: Final = struct.Struct(">I").unpack_from
_UNPACK_Q: Final = struct.Struct(">Q").unpack_from
_UNPACK_E: Final = struct.Struct(">e").unpack_from
_UNPACK_F: Final = struct.Struct(">f").unpack_from
_UNPACK_D: Final = struct.Struct(">d").unpack_from
_SIMPLE: Final = {20: False, 21: True, 22: None}


class _Reader:
    __slots__ = ("data", "end", "items", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.items = 0

    def _need(self, count: int) -> None:
        if count > self.end - self.pos:
            raise MalformedPayloadError(
                f"CBOR item at offset {self.pos} needs {count} bytes, {self.end - self.pos} remain",
                ErrorCode.TRUNCATED,
            )

    def _argument(self, info: int) -> int:
        """The integer argument that follows an initial byte (RFC 8949 section 3)."""
        if info < 24:
            return info
        pos = self.pos
        if info == 24:
            self._need(1)
            self.pos = pos + 1
            return self.data[pos]
        if info == 25:
            self._need(2)
            self.pos = pos + 2
            return int(_UNPACK_H(self.data, pos)[0])
        if info == 26:
            self._need(4)
            self.pos = pos + 4
            return int(_UNPACK_I(self.data, pos)[0])
        if info == 27:
            self._need(8)
            self.pos = pos + 8
            return int(_UNPACK_Q(self.data, pos)[0])
        if info == 31:
            raise MalformedPayloadError(f"indefinite length at offset {pos - 1} is not allowed")
        raise MalformedPayloadError(f"reserved additional information {info} at offset {pos - 1}")

    def item(self, depth: int) -> Any:
        self.items += 1
        if self.items > MAX_CBOR_ITEMS:
            raise LimitExceededError(f"more than {MAX_CBOR_ITEMS} CBOR items")
        pos = self.pos
        if pos >= self.end:
            self._need(1)
        initial = self.data[pos]
        self.pos = pos + 1
        if initial < 24:  # fast path: small unsigned integers dominate metric tables
            return initial
        major, info = initial >> 5, initial & 0x1F
        if major == 0:
            return self._argument(info)
        if major == 1:
            return -1 - self._argument(info)
        if major in (2, 3):
            return self._string(major, self._argument(info))
        if major in (4, 5):
            if depth >= MAX_CBOR_DEPTH:
                raise LimitExceededError(f"CBOR nesting deeper than {MAX_CBOR_DEPTH}")
            count = self._argument(info)
            return self._array(count, depth + 1) if major == 4 else self._map(count, depth + 1)
        if major == 6:
            raise MalformedPayloadError(f"CBOR tag at offset {pos} is not allowed")
        return self._simple(info)

    def _string(self, major: int, length: int) -> bytes | str:
        self._need(length)
        start = self.pos
        self.pos = start + length
        raw = self.data[start : self.pos]
        if major == 2:
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayloadError(f"text string at offset {start} is not UTF-8") from None

    def _array(self, count: int, depth: int) -> list[Any]:
        self._need(count)  # every item takes at least one byte
        return [self.item(depth) for _ in range(count)]

    def _map(self, count: int, depth: int) -> dict[int | str, Any]:
        self._need(2 * count)
        result: dict[int | str, Any] = {}
        for _ in range(count):
            key_at = self.pos
            key = self.item(depth)
            if type(key) not in (int, str):
                raise MalformedPayloadError(f"map key at offset {key_at} is not an integer or text")
            if key in result:
                raise MalformedPayloadError(f"duplicate map key {key!r} at offset {key_at}")
            result[key] = self.item(depth)
        return result

    def _simple(self, info: int) -> Any:
        if info in _SIMPLE:
            return _SIMPLE[info]
        unpack = {25: (_UNPACK_E, 2), 26: (_UNPACK_F, 4), 27: (_UNPACK_D, 8)}.get(info)
        if unpack is None:
            raise MalformedPayloadError(
                f"simple value {info} at offset {self.pos - 1} is not allowed"
            )
        self._need(unpack[1])
        value = float(unpack[0](self.data, self.pos)[0])
        self.pos += unpack[1]
        return value


def loads(data: bytes) -> Any:
    """Decode exactly one CBOR item spanning all of `data`."""
    reader = _Reader(data)
    value = reader.item(0)
    if reader.pos != reader.end:
        raise MalformedPayloadError(
            f"{reader.end - reader.pos} bytes after the CBOR item", ErrorCode.TRAILING_BYTES
        )
    return value


def dumps(value: Any) -> bytes:
    """Encode with definite lengths and shortest integer forms, in the map's insertion order."""
    return cbor2.dumps(value)
