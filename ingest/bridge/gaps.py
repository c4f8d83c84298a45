"""Gaps in a robot's chain: the pure bookkeeping behind ``sequence_gaps``.

A gap is a range of sequence numbers that has not arrived. It opens when a message arrives
beyond the chain head + 1; a late arrival inside it splits it; a signed drop notice closes the
part it accounts for. Closed pieces are kept, with how they closed, as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Resolution = Literal["filled", "dropped"]


@dataclass(frozen=True, slots=True, order=True)
class GapPiece:
    first_seq: int
    last_seq: int
    detected_at_us: int
    resolution: Resolution | None = None
    """None while the piece is still missing."""


@dataclass(slots=True)
class RobotGaps:
    """The open gaps and chain head of one robot, changed by arrivals and drop notices."""

    head: int | None
    open: list[GapPiece] = field(default_factory=list)
    closed: list[GapPiece] = field(default_factory=list)
    changed: bool = False

    def arrive(self, seq: int, now_us: int) -> None:
        """A chained message with this seq was accepted."""
        if self.head is None or seq > self.head:
            start = 0 if self.head is None else self.head + 1
            if seq > start:
                self.open.append(GapPiece(start, seq - 1, now_us))
                self.changed = True
            self.head = seq
            return
        self._close(seq, seq, "filled")

    def owe(self, last_seq: int, now_us: int) -> None:
        """A birth says the chain reaches `last_seq`: what is not held up to it is owed, a gap
        from now on (so a tail deleted before it was sent does not go unnoticed)."""
        if self.head is not None and last_seq <= self.head:
            return
        start = 0 if self.head is None else self.head + 1
        self.open.append(GapPiece(start, last_seq, now_us))
        self.open.sort()
        self.head = last_seq
        self.changed = True

    def account_for_drop(self, first_seq: int, last_seq: int) -> None:
        """A drop notice says the robot discarded first_seq..last_seq."""
        self._close(first_seq, last_seq, "dropped")

    def _close(self, first: int, last: int, resolution: Resolution) -> None:
        still_open: list[GapPiece] = []
        for gap in self.open:
            if gap.last_seq < first or gap.first_seq > last:
                still_open.append(gap)
                continue
            self.changed = True
            lo, hi = max(gap.first_seq, first), min(gap.last_seq, last)
            self.closed.append(GapPiece(lo, hi, gap.detected_at_us, resolution))
            if gap.first_seq < lo:
                still_open.append(GapPiece(gap.first_seq, lo - 1, gap.detected_at_us))
            if hi < gap.last_seq:
                still_open.append(GapPiece(hi + 1, gap.last_seq, gap.detected_at_us))
        self.open = sorted(still_open)
