"""Which key verifies which message: a robot's keys by the part of its chain they sign.

A robot's first key signs from seq 0. A KEY_ROTATED message at seq k (protocol 1.2, section
12), signed with the key in force, ends that key at k and starts the key it announces at k + 1.
Messages signed with an old key verify with it whenever they arrive; a status, outside the
chain, verifies with the current key, or the one before it for a while after a rotation.
Pure: the ingest loads the spans, this decides.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from firmware_protocol import SignatureError, load_public_key


@dataclass(frozen=True, slots=True)
class KeySpan:
    first_seq: int
    last_seq: int | None
    """None: the current key."""
    public_key: bytes
    retired_at_us: int | None = None


@functools.lru_cache(maxsize=4096)
def verify_key(public_key: bytes) -> VerifyKey:
    """Loaded once per key: robots send many messages with one key."""
    return load_public_key(public_key)


def verifies(signed_data: bytes, signature: bytes, public_key: bytes) -> bool:
    """Whether `public_key` verifies the signature (a key that does not load verifies none)."""
    try:
        verify_key(public_key).verify(signed_data, signature)
    except (BadSignatureError, SignatureError):
        return False
    return True


@dataclass(slots=True)
class KeyRing:
    spans: list[KeySpan] = field(default_factory=list)
    provisional: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    """Rotations seen in this flush but not yet written: the seq and digest of the KEY_ROTATED
    message, by the first seq of the key it announced."""

    @classmethod
    def of(cls, spans: list[KeySpan], current: bytes | None) -> KeyRing:
        """The spans stored for a robot; a robot enrolled before keys were tracked by seq has
        only its current key, which then signs its whole chain."""
        if not spans and current is not None:
            spans = [KeySpan(0, None, current)]
        return cls(sorted(spans, key=lambda span: span.first_seq))

    def for_seq(self, seq: int) -> KeySpan | None:
        for span in reversed(self.spans):
            if span.first_seq <= seq and (span.last_seq is None or seq <= span.last_seq):
                return span
        return None

    def for_status(self, now_us: int, overlap_us: int) -> list[KeySpan]:
        """The current key, then the previous one if it was retired less than `overlap_us`
        ago (a will signed before a rotation may be published by the broker after it)."""
        if not self.spans:
            return []
        current, *older = reversed(self.spans)
        keys = [current]
        if older and (
            older[0].retired_at_us is None or now_us - older[0].retired_at_us < overlap_us
        ):
            keys.append(older[0])
        return keys

    def rotate(self, at_seq: int, digest: bytes, public_key: bytes, now_us: int) -> None:
        """The key in force at `at_seq` ends there; `public_key` signs from at_seq + 1. The
        message announcing it (at_seq, `digest`) must itself be accepted (announced_by)."""
        current = self.spans[-1] if self.spans else None
        if current is not None and current.first_seq > at_seq:
            return  # the same announcement again (a redelivery in this flush), or an older one
        if current is not None and current.last_seq is None:
            self.spans[-1] = KeySpan(current.first_seq, at_seq, current.public_key, now_us)
        self.spans.append(KeySpan(at_seq + 1, None, public_key))
        self.provisional[at_seq + 1] = (at_seq, digest)

    def announced_at(self, seq: int, digest: bytes) -> bytes | None:
        """The key the message of this flush at (seq, digest) installed, if it did."""
        announced = self.provisional.get(seq + 1)
        if announced != (seq, digest):
            return None
        span = self.for_seq(seq + 1)
        return None if span is None else span.public_key

    def announced_by(self, span: KeySpan) -> tuple[int, bytes] | None:
        """The seq and digest of the message of this flush that announced `span`, if any."""
        return self.provisional.get(span.first_seq)
