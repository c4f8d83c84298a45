"""One flush: judge a group of received messages and write what they carry, in one transaction.

Judging: the topic and payload must decode (firmware_protocol), the robot must be known, of the
topic's tenant and active, the signature must verify with its enrolled key, and a chained
message must link to what is held (classify_link). What passes is written; what fails goes to
dead letters with its raw bytes and reason. Nothing here commits: the caller owns the
transaction, and acknowledges to the broker and to the robots only after the commit.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware_protocol import (
    Decoded,
    DropNotice,
    EventBatch,
    EventKind,
    Form,
    LinkVerdict,
    ProtocolError,
    SignatureError,
    Status,
    TelemetryBatch,
    Topic,
    classify_link,
    decode,
    verify,
)
from firmware_protocol.catalogue import MetricKey
from firmware_protocol.errors import ErrorCode
from firmware_protocol.messages import RobotState
from ingest.bridge import repository as repo
from ingest.bridge.clock import clock_shift_us
from ingest.bridge.copy_format import telemetry_copy_rows
from ingest.bridge.gaps import RobotGaps
from ingest.bridge.rollups import hourly_rollup
from ingest.bridge.samples import PlacedBatch, SampleColumns, flatten
from ingest.models import RobotStatus

# A robot's data may start a little before its registration (clocks, enrolment on the bench);
# a device time earlier than this margin before it is a clock that was reset.
PLAUSIBILITY_MARGIN_S = 7 * 86_400


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message as received from the broker; `token` is the source's handle for acking it."""

    topic: str
    payload: bytes
    received_us: int
    token: object = None


@dataclass(frozen=True, slots=True)
class FlushPolicy:
    clock_skew_threshold_us: int
    max_future_us: int
    accept_json: bool = False


@dataclass(slots=True)
class FlushOutcome:
    samples: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    gaps_opened: int = 0
    committed: dict[uuid.UUID, tuple[str, list[int]]] = field(default_factory=dict)
    """Per robot: tenant slug and the chained seqs now durably held (to acknowledge to it)."""

    def commit(self, robot: uuid.UUID, tenant: str, seq: int) -> None:
        self.committed.setdefault(robot, (tenant, []))[1].append(seq)


@dataclass(frozen=True, slots=True)
class _Parsed:
    inbound: Inbound
    topic: Topic
    decoded: Decoded


@dataclass(slots=True)
class Prepared:
    """A flush decoded and ready to be judged against the database."""

    messages: list[Inbound]
    parsed: list[_Parsed] = field(default_factory=list)
    rejected: list[tuple[Inbound, str, str]] = field(default_factory=list)


@dataclass(slots=True)
class _Writes:
    """Everything one flush will write, gathered before any write."""

    placed: list[PlacedBatch] = field(default_factory=list)
    receipts: list[tuple[object, ...]] = field(default_factory=list)
    events: list[tuple[object, ...]] = field(default_factory=list)
    drops: list[tuple[object, ...]] = field(default_factory=list)
    dead: list[tuple[object, ...]] = field(default_factory=list)
    presence: list[tuple[object, ...]] = field(default_factory=list)
    tamper: dict[uuid.UUID, str] = field(default_factory=dict)
    heads: dict[uuid.UUID, tuple[int, bytes]] = field(default_factory=dict)
    gaps: dict[uuid.UUID, RobotGaps] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    clocks: dict[tuple[uuid.UUID, uuid.UUID], int] = field(default_factory=dict)
    """Per (robot, boot): the largest offset seen, device clock minus receive time (us)."""

    def dead_letter(
        self, inbound: Inbound, reason: str, detail: str, robot: uuid.UUID | None = None
    ) -> None:
        self.reasons[reason] += 1
        received = repo.to_datetime(inbound.received_us)
        self.dead.append((received, inbound.topic, inbound.payload, reason, detail, robot))


@dataclass(frozen=True, slots=True)
class _ChainContext:
    held: dict[tuple[uuid.UUID, int], repo.HeldLink]
    drops: dict[uuid.UUID, list[repo.HeldDrop]]
    writes: _Writes
    outcome: FlushOutcome


class Flusher:
    """Judges and writes flushes; keeps the metric-id cache between them."""

    def __init__(self, policy: FlushPolicy) -> None:
        self.policy = policy
        self._metric_ids: dict[str, int] = {}

    async def flush(self, conn: repo.Conn, messages: list[Inbound]) -> FlushOutcome:
        return await self.write(conn, self.prepare(messages))

    def prepare(self, messages: list[Inbound]) -> Prepared:
        """Decode a flush's messages: pure CPU, no database, safe to run in another thread
        while the previous flush is being written."""
        prepared = Prepared(messages)
        for inbound in messages:
            try:
                topic = Topic.parse(inbound.topic)
                decoded = decode(inbound.payload, topic=topic, allow_json=self.policy.accept_json)
            except ProtocolError as exc:
                prepared.rejected.append((inbound, exc.code.value.lower(), str(exc)))
                continue
            prepared.parsed.append(_Parsed(inbound, topic, decoded))
        return prepared

    async def write(self, conn: repo.Conn, prepared: Prepared) -> FlushOutcome:
        """Judge and write a prepared flush inside the caller's transaction."""
        outcome, writes = FlushOutcome(), _Writes()
        for inbound, reason, detail in prepared.rejected:
            writes.dead_letter(inbound, reason, detail)
        parsed = prepared.parsed
        robots = await repo.lock_robots(conn, (p.topic.robot_id for p in parsed))
        trusted = [p for p in parsed if self._authenticate(p, robots, writes)]
        writes.clocks = await repo.merge_clock_offsets(conn, _largest_offsets(trusted))
        await self._judge_chains(conn, trusted, robots, writes, outcome)
        self._presence(trusted, robots, writes)
        await self._write(conn, writes)
        outcome.dead_letters = writes.reasons
        return outcome

    # ------------------------------------------------------------------ judging

    def _authenticate(
        self, item: _Parsed, robots: dict[uuid.UUID, repo.RobotRecord], writes: _Writes
    ) -> bool:
        robot_id, inbound = item.topic.robot_id, item.inbound
        robot = robots.get(robot_id)
        if robot is None:
            writes.dead_letter(inbound, "unknown_robot", f"no robot {robot_id}")
            return False
        if robot.tenant_slug != item.topic.tenant:
            detail = f"robot {robot_id} belongs to another tenant than {item.topic.tenant!r}"
            writes.dead_letter(inbound, "tenant_mismatch", detail, robot_id)
            return False
        if robot.status != RobotStatus.ACTIVE or robot.public_key is None:
            detail = f"robot {robot_id} is {robot.status}"
            writes.dead_letter(inbound, "robot_inactive", detail, robot_id)
            return False
        if item.decoded.form is Form.JSON and self.policy.accept_json:
            return True
        try:
            verify(item.decoded, robot.public_key)
        except SignatureError as exc:
            writes.dead_letter(inbound, exc.code.value.lower(), str(exc), robot_id)
            if exc.code is ErrorCode.BAD_SIGNATURE:
                writes.tamper.setdefault(robot_id, "bad_signature")
            return False
        return True

    async def _judge_chains(
        self,
        conn: repo.Conn,
        items: list[_Parsed],
        robots: dict[uuid.UUID, repo.RobotRecord],
        writes: _Writes,
        outcome: FlushOutcome,
    ) -> None:
        chained = sorted(
            (p for p in items if p.decoded.link is not None),
            key=lambda p: (p.topic.robot_id, p.decoded.link.seq if p.decoded.link else 0),
        )
        if not chained:
            return
        wanted = [
            (p.topic.robot_id, p.decoded.link.seq + delta)
            for p in chained
            if p.decoded.link is not None
            for delta in (-1, 0, 1)
        ]
        held = await repo.held_links(conn, wanted)
        robot_ids = sorted({p.topic.robot_id for p in chained})
        drops = await repo.held_drops(conn, robot_ids)
        gaps = await repo.open_gaps(conn, robot_ids)
        for robot_id in robot_ids:
            writes.gaps[robot_id] = RobotGaps(
                robots[robot_id].chain_head_seq, gaps.get(robot_id, [])
            )
        context = _ChainContext(held, drops, writes, outcome)
        for item in chained:
            self._judge_link(item, robots[item.topic.robot_id], context)

    def _judge_link(self, item: _Parsed, robot: repo.RobotRecord, context: _ChainContext) -> None:
        held, drops, writes, outcome = context.held, context.drops, context.writes, context.outcome
        link, robot_id = item.decoded.link, robot.robot_id
        assert link is not None  # noqa: S101 - only chained messages come here
        robot_drops = drops.get(robot_id, [])
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
            writes.dead_letter(item.inbound, reason, f"seq {link.seq}", robot_id)
            writes.tamper.setdefault(robot_id, reason)
            outcome.commit(robot_id, robot.tenant_slug, link.seq)
            return
        held[(robot_id, link.seq)] = repo.HeldLink(link.digest, link.prev_digest)
        self._accept(item, robot, writes, outcome)
        robot_gaps = writes.gaps[robot_id]
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
            drops[robot_id] = robot_drops
            robot_gaps.account_for_drop(message.first_seq, message.last_seq)
        head = writes.heads.get(robot_id)
        if head is None or link.seq > head[0]:
            writes.heads[robot_id] = (link.seq, link.digest)

    def _accept(
        self, item: _Parsed, robot: repo.RobotRecord, writes: _Writes, outcome: FlushOutcome
    ) -> None:
        """Gather the rows of an accepted chained message."""
        message: Any = item.decoded.message
        inbound, robot_id = item.inbound, robot.robot_id
        offset_us = message.wall_us - inbound.received_us
        shift_us = clock_shift_us(
            writes.clocks.get((robot_id, message.boot_id), offset_us),
            message.wall_us,
            self.policy.clock_skew_threshold_us,
            int((robot.registered_at.timestamp() - PLAUSIBILITY_MARGIN_S) * 1e6),
        )
        samples = 0
        if isinstance(message, TelemetryBatch):
            placed = PlacedBatch(message, np.empty(0, np.int64), shift_us)
            last_sample_us = int(placed.sample_times_us()[-1])
            if last_sample_us > inbound.received_us + self.policy.max_future_us:
                detail = f"a sample is {(last_sample_us - inbound.received_us) / 1e6:.0f} s ahead"
                writes.dead_letter(inbound, "future_timestamp", detail, robot_id)
            else:
                writes.placed.append(placed)
                samples = message.sample_count
        elif isinstance(message, EventBatch):
            writes.events.extend(_event_rows(message, shift_us))
        elif isinstance(message, DropNotice):
            writes.drops.append(
                (
                    robot_id,
                    message.seq,
                    message.first_seq,
                    message.last_seq,
                    message.reason,
                    message.dropped_bytes,
                    message.digest_before,
                    message.last_digest,
                    message.dropped_samples,
                )
            )
        # The receipt keeps the chain whole even when the data itself went to dead letters.
        writes.receipts.append(
            (
                robot_id,
                message.seq,
                item.decoded.kind.name.lower(),
                item.decoded.digest,
                message.prev_digest,
                message.boot_id,
                repo.to_datetime(message.wall_us),
                repo.to_datetime(inbound.received_us),
                offset_us / 1e6,
                shift_us / 1e6,
                samples,
            )
        )
        outcome.accepted += 1
        outcome.samples += samples
        outcome.commit(robot_id, robot.tenant_slug, message.seq)

    def _presence(
        self, items: list[_Parsed], robots: dict[uuid.UUID, repo.RobotRecord], writes: _Writes
    ) -> None:
        """Apply the newest status report of each robot, by the robot's own clock."""
        latest: dict[uuid.UUID, Status] = {}
        for item in items:
            message = item.decoded.message
            if isinstance(message, Status):
                known = latest.get(message.robot_id)
                if known is None or message.wall_us >= known.wall_us:
                    latest[message.robot_id] = message
        for robot_id, status in latest.items():
            reported = repo.to_datetime(status.wall_us)
            applied = robots[robot_id].presence_reported_at
            if applied is not None and reported < applied:
                continue
            writes.presence.append(
                (
                    status.state == RobotState.ONLINE,
                    reported,
                    status.boot_id,
                    status.firmware_version,
                    status.agent_version,
                    robot_id,
                )
            )

    # ------------------------------------------------------------------ writing

    async def _write(self, conn: repo.Conn, writes: _Writes) -> None:
        if writes.placed:
            await self._place_metrics(conn, writes.placed)
            columns = flatten(writes.placed)
            # The rollups are computed in a thread while PostgreSQL takes the COPY.
            rollup = asyncio.ensure_future(
                asyncio.to_thread(
                    hourly_rollup,
                    columns.robot_index,
                    columns.metric_id,
                    columns.time_us,
                    columns.value,
                )
            )
            await repo.copy_telemetry(conn, _copy_chunks(columns))
            await repo.upsert_rollups(conn, await rollup, columns.robots)
        await repo.insert_receipts(conn, writes.receipts)
        await repo.insert_events(conn, writes.events)
        await repo.insert_drop_notices(conn, writes.drops)
        for robot_id, robot_gaps in writes.gaps.items():
            if robot_gaps.changed:
                await repo.save_gaps(conn, robot_id, robot_gaps.open, robot_gaps.closed)
        await repo.advance_chain_heads(conn, writes.heads)
        await repo.flag_tampering(conn, writes.tamper)
        await repo.record_presence(conn, writes.presence)
        await repo.insert_dead_letters(conn, writes.dead)

    async def _place_metrics(self, conn: repo.Conn, placed: list[PlacedBatch]) -> None:
        """Give every batch the metric ids of its keys, registering keys seen the first time."""
        unknown: dict[str, tuple[str, int, str, str]] = {}
        for item in placed:
            for key in item.batch.keys:
                text = str(key)
                if text not in self._metric_ids:
                    unknown[text] = _metric_row(key)
        if unknown:
            self._metric_ids.update(await repo.ensure_metrics(conn, unknown))
        for index, item in enumerate(placed):
            ids = np.array([self._metric_ids[str(k)] for k in item.batch.keys], dtype=np.int64)
            placed[index] = PlacedBatch(item.batch, ids, item.shift_us)

    def forget_metric_ids(self) -> None:
        """After a failed transaction, ids registered in it may not exist."""
        self._metric_ids.clear()


COPY_CHUNK_ROWS = 100_000


async def _copy_chunks(columns: SampleColumns) -> AsyncIterator[bytes]:
    """The flush's COPY rows in chunks, each built in a thread while the last one is sent."""
    uuids, metric_ids = columns.robot_uuids(), columns.metric_id.astype(np.int16)

    def build(start: int) -> bytes:
        part = slice(start, start + COPY_CHUNK_ROWS)
        return telemetry_copy_rows(
            columns.time_us[part],
            uuids[part],
            metric_ids[part],
            columns.value[part],
            columns.seq[part],
        )

    starts = list(range(0, len(columns), COPY_CHUNK_ROWS))
    if not starts:
        return
    next_chunk = asyncio.ensure_future(asyncio.to_thread(build, starts[0]))
    for following in starts[1:]:
        chunk = await next_chunk
        next_chunk = asyncio.ensure_future(asyncio.to_thread(build, following))
        yield chunk
    yield await next_chunk


def _largest_offsets(items: list[_Parsed]) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """Per (robot, boot), the largest offset of the flush's authentic messages."""
    largest: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for item in items:
        message: Any = item.decoded.message
        if isinstance(message, (TelemetryBatch, EventBatch, DropNotice, Status)):
            pair = (message.robot_id, message.boot_id)
            offset = message.wall_us - item.inbound.received_us
            largest[pair] = max(largest.get(pair, offset), offset)
    return largest


def _metric_row(key: MetricKey) -> tuple[str, int, str, str]:
    spec = key.spec
    if spec is None:
        return (key.name, key.channel, "", "")
    return (key.name, key.channel, spec.unit, spec.description)


def _drop_last_digest(drops: list[repo.HeldDrop], seq: int) -> bytes | None:
    return next((d.last_digest for d in drops if d.last_seq == seq), None)


def _drop_digest_before(drops: list[repo.HeldDrop], seq: int) -> bytes | None:
    return next((d.digest_before for d in drops if d.first_seq == seq), None)


def _event_rows(batch: EventBatch, shift_us: int) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for position, event in enumerate(batch.events):
        when = batch.wall_us + (event.mono_us - batch.mono_us) + shift_us
        known = event.known_kind
        detail = {
            "channel": event.channel,
            "message": event.message,
            "value": event.value,
            "threshold": event.threshold,
            "metric": None if event.metric is None else str(event.metric),
            "from_version": event.from_version,
            "to_version": event.to_version,
        }
        rows.append(
            (
                repo.to_datetime(when),
                batch.robot_id,
                batch.seq,
                position,
                known.name.lower() if known is not None else f"kind_{event.kind}",
                event.code,
                int(event.severity),
                json.dumps({k: v for k, v in detail.items() if v is not None}),
            )
        )
    return rows


__all__ = ["EventKind", "FlushOutcome", "FlushPolicy", "Flusher", "Inbound", "Prepared"]
