"""The strict reader of the CBOR subset of docs/protocol.md section 4."""

from __future__ import annotations

import struct

from tests.conformance.doc_decoder.core import MAX_DEPTH, MAX_ITEMS, fail


class Cbor:
    """Strict reader of the CBOR subset of section 4, in reading order."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.items = 0

    def _take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            fail("TRUNCATED")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def item(self, depth: int) -> object:
        """Read one item at ``depth`` (the body map is at depth 1), steps 1-7 of section 4."""
        self.items += 1  # step 1
        if self.items > MAX_ITEMS:
            fail("LIMIT_EXCEEDED")
        if self.pos >= self.end:  # step 2
            fail("TRUNCATED")
        initial = self.data[self.pos]
        self.pos += 1
        major, info = initial >> 5, initial & 31
        if major == 6:  # step 3
            fail("MALFORMED")
        if major == 7:
            return self._simple(info)
        if major in (4, 5) and depth > MAX_DEPTH:  # step 4
            fail("LIMIT_EXCEEDED")
        if info >= 28:  # step 5
            fail("MALFORMED")
        arg = info if info < 24 else int.from_bytes(self._take(1 << (info - 24)), "big")
        if major <= 1:
            return arg if major == 0 else -1 - arg
        if major == 2:
            return self._take(arg)  # step 6 inside _take
        if major == 3:
            return self._text(self._take(arg))
        if major == 4:
            if arg > self.end - self.pos:  # step 6
                fail("TRUNCATED")
            return [self.item(depth + 1) for _ in range(arg)]
        return self._map(arg, depth)

    @staticmethod
    def _text(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")  # strict: no surrogates, no overlong forms
        except UnicodeDecodeError:
            fail("MALFORMED")

    def _map(self, pairs: int, depth: int) -> dict[int | str, object]:
        if 2 * pairs > self.end - self.pos:  # step 6
            fail("TRUNCATED")
        result: dict[int | str, object] = {}
        for _ in range(pairs):
            key = self.item(depth + 1)
            # the key's type, then its repetition (an int never equals a str)
            if not isinstance(key, (int, str)) or isinstance(key, bool) or key in result:
                fail("MALFORMED")
            result[key] = self.item(depth + 1)
        return result

    def _simple(self, info: int) -> object:
        if info in (20, 21, 22):
            return (False, True, None)[info - 20]
        fmt = {25: ">e", 26: ">f", 27: ">d"}.get(info)
        if fmt is None:  # other simple values, 0xf8, reserved 28-30, break 31
            fail("MALFORMED")
        value: float = struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]
        return value
