"""Judging a flush's decoded messages against what the cloud holds. No I/O: the flusher loads
the context from the database, this decides what to write (Writes), and the flusher writes it.

For every message: the robot must be known, of the topic's tenant and active; its signature
must verify with the key in force for it (keys.py); a chained message must link to what is held
(classify_link), and its data must fit the tenant's metric catalogue; a status must agree with
the chain it describes. What fails goes to dead letters with its reason, and where it is
evidence of tampering or misconduct, to the robot's review case. Any exception while judging
one message is that message's problem: it is dead-lettered as judging_error and the rest of
the flush goes on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import numpy as np
from loguru import logger

from database.models import CaseCategory
from firmware_protocol import (
    Decoded,
    DropNotice,
    EventBatch,
    LinkVerdict,
    TelemetryBatch,
    Topic,
    classify_link,
)
from ingest.bridge import repository as repo
from ingest.bridge import rows
from ingest.bridge.clock import clock_shift_us
from ingest.bridge.gaps import RobotGaps
from ingest.bridge.keys import KeyRing, KeySpan
from ingest.bridge.samples import PlacedBatch, SampleDraft
from ingest.bridge.writes import (
    CaseKey,
    FlushOutcome,
    FlushPolicy,
    Inbound,
    KeyRotation,
    Writes,
)

# A robot's data may start a little before its registration (clocks, enrolment on the bench);
# a device time earlier than this margin before it is a clock that was reset.
PLAUSIBILITY_MARGIN_S = 7 * 86_400
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Parsed:
    inbound: Inbound
    topic: Topic
    decoded: Decoded
    key: KeySpan | None = None
    """The key that verified it (None for the unsigned JSON debug form)."""
    checked: Mapping[bytes, bool] = field(default_factory=dict)
    """Its signature checked in the decode step: by public key, whether it verifies."""
    draft: SampleDraft | None = None
    """Its samples' columns, drafted in the decode step."""


@dataclass(slots=True)
class ChainContext:
    """What the database holds around the flush's chained messages and statuses."""

    held: dict[tuple[uuid.UUID, int], repo.HeldLink] = field(default_factory=dict)
    drops: dict[uuid.UUID, list[repo.HeldDrop]] = field(default_factory=dict)
    claims: dict[tuple[uuid.UUID, int], bytes] = field(default_factory=dict)
    """Head digests births stated for seqs not yet held (chain_claims)."""
    open_gaps: dict[uuid.UUID, list[Any]] = field(default_factory=dict)


def tamper(robot_id: uuid.UUID, reason: str) -> CaseKey:
    return CaseKey(robot_id, CaseCategory.TAMPER.value, reason)


def conduct(robot_id: uuid.UUID, reason: str) -> CaseKey:
    return CaseKey(robot_id, CaseCategory.CONDUCT.value, reason)


class Judge:
    def __init__(
        self,
        policy: FlushPolicy,
        *,
        robots: dict[uuid.UUID, repo.RobotRecord],
        keys: dict[uuid.UUID, KeyRing],
        catalogues: dict[uuid.UUID, set[str]],
        writes: Writes,
        outcome: FlushOutcome,
        keys_in_use: frozenset[bytes] = frozenset(),
    ) -> None:
        """`keys_in_use`: of the keys this flush's KEY_ROTATED messages announce, those some
        robot already has or had."""
        self.policy = policy
        self.robots = robots
        self.keys = keys
        self.catalogues = catalogues
        self.writes = writes
        self.outcome = outcome
        self.keys_in_use = set(keys_in_use)

    # ------------------------------------------------------------------ isolation

    def guarded(self, item: Parsed, step: Callable[[], T]) -> T | None:
        """Run one message's step; an exception is that message's, never the flush's."""
        try:
            return step()
        except Exception as exc:
            logger.opt(exception=exc).error("judging a message failed: {}", exc)
            self.dead_letter(item, "judging_error", f"{type(exc).__name__}: {exc}"[:500])
            return None

    def dead_letter(
        self, item: Parsed, reason: str, detail: str, case: CaseKey | None = None, **evidence: Any
    ) -> None:
        robot_id = item.topic.robot_id
        self.writes.dead_letter(
            item.inbound,
            reason,
            detail,
            robot_id=robot_id,
            known_robot=robot_id in self.robots,
            tenant=item.topic.tenant,
            case=case,
            evidence=evidence,
        )

    # ------------------------------------------------------------------ the chain

    def judge_chains(self, items: list[Parsed], context: ChainContext) -> None:
        chained = sorted(
            (p for p in items if p.decoded.link is not None),
            key=lambda p: (p.topic.robot_id, _seq(p)),
        )
        for robot_id in sorted({p.topic.robot_id for p in chained}):
            self.robot_gaps(robot_id, context)
        for item in chained:
            self.guarded(item, partial(self._judge_link, item, context))

    def robot_gaps(self, robot_id: uuid.UUID, context: ChainContext) -> RobotGaps:
        gaps = self.writes.gaps.get(robot_id)
        if gaps is None:
            pieces = context.open_gaps.get(robot_id, [])
            held = self.robots[robot_id].chain_head_seq
            # A birth's claims may have opened gaps beyond what is held: the head is past them.
            owed = max((piece.last_seq for piece in pieces), default=None)
            head = max((h for h in (held, owed) if h is not None), default=None)
            gaps = self.writes.gaps[robot_id] = RobotGaps(head, list(pieces))
        return gaps

    def _judge_link(self, item: Parsed, context: ChainContext) -> None:
        held, writes, outcome = context.held, self.writes, self.outcome
        link, robot = item.decoded.link, self.robots[item.topic.robot_id]
        assert link is not None  # noqa: S101 - only chained messages come here
        robot_id = robot.robot_id
        robot_drops = context.drops.get(robot_id, [])
        ring = self.keys[robot_id]
        if item.key is not None and (announced := ring.announced_by(item.key)) is not None:
            # Verified with a key announced in this very flush: only if that announcement
            # itself took its place in the chain.
            seq, digest = announced
            accepted = held.get((robot_id, seq))
            if accepted is None or accepted.digest != digest:
                self.dead_letter(item, "key_not_established", f"seq {link.seq}")
                return
        same = held.get((robot_id, link.seq))
        before = held.get((robot_id, link.seq - 1))
        after = held.get((robot_id, link.seq + 1))
        predecessor = before.digest if before else _drop_last_digest(robot_drops, link.seq - 1)
        successor_prev = (
            after.prev_digest if after else _drop_digest_before(robot_drops, link.seq + 1)
        )
        assessment = classify_link(
            link,
            same_seq_digest=same.digest if same else None,
            predecessor_digest=predecessor,
            successor_prev_digest=successor_prev,
        )
        if assessment.verdict is LinkVerdict.DUPLICATE:
            outcome.duplicates += 1
            outcome.commit(robot_id, robot.tenant_slug, link.seq)
            return
        if assessment.verdict is LinkVerdict.TAMPERED:
            reason = f"tampered_{assessment.reason.value if assessment.reason else 'chain'}"
            held_digest = same.digest.hex() if same else None
            self.dead_letter(
                item,
                reason,
                f"seq {link.seq}",
                case=tamper(robot_id, reason),
                seq=link.seq,
                held_digest=held_digest,
            )
            outcome.commit(robot_id, robot.tenant_slug, link.seq)
            return
        claimed = context.claims.get((robot_id, link.seq))
        if claimed is not None and claimed != link.digest:
            # A birth stated another message for this seq: the history was rewritten since.
            self.dead_letter(
                item,
                "tampered_claimed_head",
                f"seq {link.seq} is not the message a birth stated",
                case=tamper(robot_id, "tampered_claimed_head"),
                seq=link.seq,
                claimed_digest=claimed.hex(),
            )
            outcome.commit(robot_id, robot.tenant_slug, link.seq)
            return
        self._accept(item, robot)
        held[(robot_id, link.seq)] = repo.HeldLink(link.digest, link.prev_digest)
        robot_gaps = self.robot_gaps(robot_id, context)
        had_open = len(robot_gaps.open)
        robot_gaps.arrive(link.seq, item.inbound.received_us)
        outcome.gaps_opened += max(0, len(robot_gaps.open) - had_open)
        message = item.decoded.message
        if isinstance(message, DropNotice):
            robot_drops.append(
                repo.HeldDrop(
                    message.first_seq, message.last_seq, message.digest_before, message.last_digest
                )
            )
            context.drops[robot_id] = robot_drops
            robot_gaps.account_for_drop(message.first_seq, message.last_seq)
        key_ring = self.keys.get(robot_id)
        rotation = None if key_ring is None else key_ring.announced_at(link.seq, link.digest)
        if (
            rotation is not None
            and robot.rotation_id is not None
            and all(done.robot_id != robot_id for done in writes.rotations)
        ):
            writes.rotations.append(KeyRotation(robot_id, link.seq, robot.rotation_id, rotation))
        head = writes.heads.get(robot_id)
        if head is None or link.seq > head[0]:
            writes.heads[robot_id] = (link.seq, link.digest)

    def _accept(self, item: Parsed, robot: repo.RobotRecord) -> None:
        """Gather the rows of an accepted chained message. Its data may still be refused (a
        full metric catalogue, samples from the future): then its bytes are a dead letter,
        and its receipt alone keeps the chain whole."""
        message: Any = item.decoded.message
        inbound, robot_id, writes = item.inbound, robot.robot_id, self.writes
        offset_us = message.wall_us - inbound.received_us
        skew_us = writes.clocks.get((robot_id, message.boot_id), offset_us)
        shift_us = clock_shift_us(
            skew_us,
            message.wall_us,
            self.policy.clock_skew_threshold_us,
            int((robot.registered_at.timestamp() - PLAUSIBILITY_MARGIN_S) * 1e6),
        )
        samples = 0
        if isinstance(message, TelemetryBatch):
            if self._admit_samples(item, robot, message, shift_us):
                samples = message.sample_count
        elif isinstance(message, EventBatch):
            writes.events.extend(rows.event_rows(message, shift_us))
        elif isinstance(message, DropNotice):
            writes.drops.append(rows.drop_row(message))
        writes.receipts.append(
            rows.receipt_row(item.decoded, inbound.received_us, offset_us, shift_us, samples)
        )
        self.outcome.accepted += 1
        self.outcome.samples += samples
        self.outcome.delays_us.append(max(0, skew_us - offset_us))
        self.outcome.commit(robot_id, robot.tenant_slug, message.seq)

    def _admit_samples(
        self, item: Parsed, robot: repo.RobotRecord, batch: TelemetryBatch, shift_us: int
    ) -> bool:
        """Place a batch's samples, unless they come from the future or would take the
        tenant's metric catalogue past its limit (then the robot is reviewed)."""
        placed = PlacedBatch(batch, np.empty(0, np.int64), shift_us, item.draft)
        ahead_us = int(placed.sample_times_us()[-1]) - item.inbound.received_us
        if ahead_us > self.policy.max_future_us:
            self.dead_letter(item, "future_timestamp", f"a sample is {ahead_us / 1e6:.0f} s ahead")
            return False
        catalogue = self.catalogues.setdefault(robot.tenant_id, set())
        new = {str(key) for key in batch.keys} - catalogue
        limit = self.policy.budgets.metric_catalogue
        if len(catalogue) + len(new) > limit:
            self.dead_letter(
                item,
                "metric_catalogue_full",
                f"{len(new)} new metric keys; the tenant has {len(catalogue)} of {limit}",
                case=conduct(robot.robot_id, "metric_catalogue_full"),
                seq=batch.seq,
            )
            return False
        if new:
            catalogue |= new
            self.writes.catalogue.setdefault(robot.tenant_id, set()).update(new)
        self.writes.placed.append(placed)
        return True


def _seq(item: Parsed) -> int:
    link = item.decoded.link
    return link.seq if link is not None else -1


def _drop_last_digest(drops: list[repo.HeldDrop], seq: int) -> bytes | None:
    return next((d.last_digest for d in drops if d.last_seq == seq), None)


def _drop_digest_before(drops: list[repo.HeldDrop], seq: int) -> bytes | None:
    return next((d.digest_before for d in drops if d.first_seq == seq), None)
