"""The judge fuzz target's input format: how the bytes of one fuzz input are read (`Reader`),
and written for seeds (`Writer`). judge_plan.parse turns an input into one or two flushes of
MQTT messages (fuzz/fuzz_judge.py runs them; fuzz/seeds.py writes inputs).

Everything is read from the FRONT of the input with atheris.FuzzedDataProvider's ConsumeUInt
(little-endian) and ConsumeBytes, never with its ConsumeIntInRange (which reads from the back),
so a seed is simply its choices written in order (`Writer`), and a byte 0, or the end of the
input, always picks the honest, typical choice. Layout::

    u8  header: bits 0-2 = messages - 1 (1..8), bit 3 = two flushes, bit 4 = a development
        policy that accepts the JSON form
    u8  (two flushes only) where the second flush starts
    then per message a record, u24 length then that many bytes, read by a provider of its own
    (a mutation inside one record does not shift the others):
    u8  mode (bits 0-2) and topic variant (bits 3-7; 0-19 = the right topic)
    u8  robot (index into FLEET)
    u8  receive time (RECEIVED_DELTAS_US)
    ... the mode's own fields:
        0, 3, 7 BUILT  a valid message made from fuzzed fields (judge_builder.Builder), signed
        1 RAW      the rest of the record: the payload as it is
        2 REHOMED  the rest of the record: a payload whose body's robot_id becomes the robot's,
                   re-signed with the robot's key (golden vectors become authentic)
        4 MUTATED  a built message, then byte mutations (judge_frames.mutate), then (by default)
                   re-signed
        5 REPEAT   u8: an earlier message of this input, delivered again
        6 REPLAY   u8: a message of the robot's committed base history (or one it withheld)

The fleet and its base history (judge_world) are fixed (seeds, ids, times), so an input means
the same flushes on every run and on every machine: crash files reproduce.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class Reader:
    """Front-to-back choices over atheris.FuzzedDataProvider; 0 once the input is used up."""

    def __init__(self, data: bytes) -> None:
        import atheris  # the fuzz extra; imported here so that seeds.py runs without it

        self._fdp = atheris.FuzzedDataProvider(data)

    def u8(self) -> int:
        return int(self._fdp.ConsumeUInt(1))

    def u16(self) -> int:
        return int(self._fdp.ConsumeUInt(2))

    def u24(self) -> int:
        return int(self._fdp.ConsumeUInt(3))

    def u32(self) -> int:
        return int(self._fdp.ConsumeUInt(4))

    def raw(self, count: int) -> bytes:
        return bytes(self._fdp.ConsumeBytes(count))

    def pick(self, options: Sequence[T]) -> T:
        """Option 0 is the honest or typical one."""
        return options[self.u8() % len(options)]

    def text(self, max_bytes: int, *, empty: bool = False) -> str:
        """Protocol-valid text (no U+0000-U+001F, at most max_bytes UTF-8 bytes)."""
        data = self.raw(self.u8() % (max_bytes + 1))
        text = "".join(ch for ch in data.decode("utf-8", "ignore") if ord(ch) >= 0x20)
        while len(text.encode()) > max_bytes:
            text = text[:-1]
        return text if text or empty else "x"

    def remaining(self) -> int:
        return int(self._fdp.remaining_bytes())


class Writer:
    """Writes the choices a Reader reads, in the same order (for seeds)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        self.parts.append(struct.pack("<B", value))
        return self

    def u24(self, value: int) -> Writer:
        self.parts.append(value.to_bytes(3, "little"))
        return self

    def raw(self, data: bytes) -> Writer:
        self.parts.append(data)
        return self

    def record(self, data: bytes) -> Writer:
        """One message's record: its length, then its bytes."""
        return self.u24(len(data)).raw(data)

    def data(self) -> bytes:
        return b"".join(self.parts)


class Mode:
    BUILT = 0  # also 3 and 7
    RAW = 1
    REHOMED = 2
    MUTATED = 4
    REPEAT = 5
    REPLAY = 6
