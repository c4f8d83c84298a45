"""Judging a chained message against what the cloud already holds. Pure: no I/O, no clock.

Telemetry batches, event batches and drop notices of one robot share one sequence space
(seq 0, 1, 2, ... never reused, across reboots) and one hash chain: each carries the digest of
the message with seq - 1. The cloud can then tell:

* DUPLICATE: the very message (same digest) is already held: redelivery, not an error.
* NEXT: its predecessor is held and it links to it.
* GAP: its predecessor is not held (lost, late, or dropped by the robot). Accepted; the gap
  is recorded and closed when the predecessor arrives or a drop notice accounts for it.
* TAMPERED: it contradicts a held message: another message with the same seq (a fork), a
  prev_digest that is not the held predecessor's digest, or a held successor whose
  prev_digest is not this message's digest. Refused. (A bad signature is also tampering; the
  caller checks that first, with signing.verify.)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from firmware_protocol.messages import ChainLink


class LinkVerdict(StrEnum):
    NEXT = "next"
    GAP = "gap"
    DUPLICATE = "duplicate"
    TAMPERED = "tampered"


class TamperReason(StrEnum):
    FORK = "fork"
    """Another message with the same seq is held."""
    BROKEN_BACK_LINK = "broken_back_link"
    """prev_digest differs from the digest of the held message seq - 1."""
    BROKEN_FORWARD_LINK = "broken_forward_link"
    """The held message seq + 1 names a different predecessor."""


@dataclass(frozen=True, slots=True)
class LinkAssessment:
    verdict: LinkVerdict
    reason: TamperReason | None = None
    fills_gap: bool = False
    """True if a held successor was waiting for this message (a gap closes)."""

    @property
    def accepted(self) -> bool:
        return self.verdict in (LinkVerdict.NEXT, LinkVerdict.GAP)


def classify_link(
    new: ChainLink,
    *,
    same_seq_digest: bytes | None,
    predecessor_digest: bytes | None,
    successor_prev_digest: bytes | None,
) -> LinkAssessment:
    """Classify `new` given the held neighbours (None where nothing is held).

    `predecessor_digest`: digest of the held message with seq new.seq - 1, or a drop notice's
    `last_digest` if one covers that seq. `successor_prev_digest`: prev_digest of the held
    message with seq new.seq + 1, or a drop notice's `digest_before` if one starts there.
    """
    if same_seq_digest is not None:
        if same_seq_digest == new.digest:
            return LinkAssessment(LinkVerdict.DUPLICATE)
        return LinkAssessment(LinkVerdict.TAMPERED, TamperReason.FORK)
    if predecessor_digest is not None and predecessor_digest != new.prev_digest:
        return LinkAssessment(LinkVerdict.TAMPERED, TamperReason.BROKEN_BACK_LINK)
    if successor_prev_digest is not None and successor_prev_digest != new.digest:
        return LinkAssessment(LinkVerdict.TAMPERED, TamperReason.BROKEN_FORWARD_LINK)
    fills = successor_prev_digest is not None
    # seq 0 has no predecessor by definition (its prev_digest is all zero, checked on decode).
    if predecessor_digest is not None or new.seq == 0:
        return LinkAssessment(LinkVerdict.NEXT, fills_gap=fills)
    return LinkAssessment(LinkVerdict.GAP, fills_gap=fills)
