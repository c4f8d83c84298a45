"""One flush: decode a group of received messages, judge them (judge.py) and write what they
carry, in one transaction.

Nothing here commits: the caller owns the transaction, and acknowledges to the broker and to
the robots only after the commit. What is refused goes to dead letters with its raw bytes and
reason, within each robot's and tenant's budget (budget.py); past it, it is counted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from firmware_protocol import DropNotice, EventBatch, EventKind, Status, TelemetryBatch
from firmware_protocol.catalogue import MetricKey
from firmware_protocol.limits import MAX_UINT
from ingest.bridge import evidence_repository as evidence_repo
from ingest.bridge import reads
from ingest.bridge import repository as repo
from ingest.bridge.authentication import authenticate
from ingest.bridge.budget import allocate, scopes_of, window_start_us
from ingest.bridge.copy_format import telemetry_copy_rows
from ingest.bridge.decode_step import Known, Prepared, Rejected, prepare
from ingest.bridge.gaps import GapPiece
from ingest.bridge.judge import ChainContext, Judge, Parsed, conduct
from ingest.bridge.keys import KeyRing, KeySpan
from ingest.bridge.presence import judge_statuses
from ingest.bridge.rollups import HourlyRollup, hourly_rollup
from ingest.bridge.samples import DraftedColumns, PlacedBatch, SampleColumns, placed_columns
from ingest.bridge.writes import FlushOutcome, FlushPolicy, Inbound, Writes


class Flusher:
    """Judges and writes flushes; keeps the metric ids and tenant catalogues between them."""

    def __init__(self, policy: FlushPolicy) -> None:
        self.policy = policy
        self._metric_ids: dict[str, int] = {}
        self._catalogues: dict[uuid.UUID, set[str]] = {}
        self._known = Known()

    async def flush(self, conn: repo.Conn, messages: list[Inbound]) -> FlushOutcome:
        return await self.write(conn, self.prepare(messages))

    def prepare(self, messages: list[Inbound]) -> Prepared:
        """Decode a flush's messages, or a chunk of them for `Prepared.joined`
        (decode_step.py): pure CPU, no database, safe to run in another thread while the
        previous flush is being written. Nothing a message holds raises out of here."""
        return prepare(messages, self.policy, self._known)

    async def warm(self, conn: repo.Conn) -> None:
        """What the first flush would otherwise pay for: the connection's catalogue caches and
        the judging reads' plans, in a transaction rolled back. (Not the hypertables' chunks:
        a chunk made in a rolled-back transaction is gone with it.)"""
        nobody = uuid.UUID(int=0)
        queries: list[reads.Query[Any]] = [
            reads.lock_robots([nobody]),
            reads.key_spans([nobody]),
            reads.keys_in_use([bytes(32)]),
            reads.held_links([(nobody, 0)]),
            reads.held_drops([nobody]),
            reads.open_gaps([nobody]),
            reads.chain_claims([(nobody, 0)]),
        ]
        async with conn.transaction(force_rollback=True), conn.pipeline():
            for query in queries:
                await reads.send(conn, query)

    async def write(self, conn: repo.Conn, prepared: Prepared) -> FlushOutcome:
        """Judge and write a prepared flush inside the caller's transaction."""
        outcome, writes = FlushOutcome(), Writes()
        for rejected in prepared.rejected:
            topic = rejected.topic
            writes.dead_letter(
                rejected.inbound,
                rejected.reason,
                rejected.detail,
                robot_id=None if topic is None else topic.robot_id,
                tenant=None if topic is None else topic.tenant,
            )
        parsed = prepared.parsed
        # The robots of what did not decode too: their dead letters name them, and their
        # budgets and review cases are theirs.
        named = [p.topic.robot_id for p in parsed]
        named += [r.topic.robot_id for r in prepared.rejected if r.topic is not None]
        # One round trip: the locks first, then what is read under them.
        async with conn.pipeline():
            locked = await reads.send(conn, reads.lock_robots(named))
            held_keys = await reads.send(conn, reads.key_spans(named))
            in_use = await reads.send(conn, reads.keys_in_use(_announced_keys(parsed)))
        robots, spans = await locked.result(), await held_keys.result()
        for letter in writes.dead:
            letter.known_robot = letter.robot_id in robots
        keys = {  # only robots locked here: a key row of any other is not for this flush
            robot: KeyRing.of(held, robots[robot].public_key)
            for robot, held in spans.items()
            if robot in robots
        }
        self._known_keys(robots, spans)
        judge = Judge(
            self.policy,
            robots=robots,
            keys=keys,
            catalogues=await self._tenant_catalogues(conn, robots),
            writes=writes,
            outcome=outcome,
            keys_in_use=await in_use.result(),
        )
        now_us = max((m.received_us for m in prepared.messages), default=0)
        trusted = authenticate(judge, parsed, now_us)
        async with conn.pipeline():  # one round trip again
            clocks = await reads.send(conn, reads.merge_clock_offsets(_largest_offsets(trusted)))
            around = await _send_chain_context(conn, trusted)
        writes.clocks = await clocks.result()
        context = await _chain_context(around)
        judge.judge_chains(trusted, context)
        judge_statuses(judge, trusted, context)
        await self._write(conn, writes, prepared.drafted)
        outcome.dead_letters = writes.reasons()
        return outcome

    async def _tenant_catalogues(
        self, conn: repo.Conn, robots: dict[uuid.UUID, repo.RobotRecord]
    ) -> dict[uuid.UUID, set[str]]:
        wanted = sorted({r.tenant_id for r in robots.values()} - self._catalogues.keys())
        if wanted:
            self._catalogues.update(await repo.tenant_catalogues(conn, wanted))
        return self._catalogues

    def forget_cached_state(self) -> None:
        """After a failed transaction, ids and catalogue entries registered in it may not exist."""
        self._metric_ids.clear()
        self._catalogues.clear()
        self._known = Known(self._known.keys, {})

    def _known_keys(
        self, robots: dict[uuid.UUID, repo.RobotRecord], spans: dict[uuid.UUID, list[KeySpan]]
    ) -> None:
        """The robots' keys as locked now, for the next decode steps (a new Known: the
        decode thread may be reading the last one)."""
        fresh = {r: KeyRing.of(spans.get(r, []), robots[r].public_key) for r in robots}
        self._known = Known({**self._known.keys, **fresh}, self._known.metric_ids)

    # ------------------------------------------------------------------ writing

    async def _write(
        self, conn: repo.Conn, writes: Writes, drafted: DraftedColumns | None = None
    ) -> None:
        await self._register_metrics(conn, writes)
        rollup: asyncio.Future[HourlyRollup] | None = None
        columns = placed_columns(drafted, writes.placed)
        if writes.placed:
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
        # The rest in one round trip: one statement per kind of row, sent without waiting.
        async with conn.pipeline():
            if rollup is not None:
                await repo.upsert_rollups(conn, await rollup, columns.robots)
            await repo.insert_receipts(conn, writes.receipts)
            await repo.insert_events(conn, writes.events)
            await repo.insert_drop_notices(conn, writes.drops)
            for robot_id, robot_gaps in writes.gaps.items():
                if robot_gaps.changed:
                    await repo.save_gaps(conn, robot_id, robot_gaps.open, robot_gaps.closed)
            await repo.advance_chain_heads(conn, writes.heads)
            await repo.record_claims(conn, writes.claims)
            await evidence_repo.confirm_rotations(conn, writes.rotations)
            await repo.record_presence(conn, writes.presence)
        await self.write_dead_letters(conn, writes)

    async def _register_metrics(self, conn: repo.Conn, writes: Writes) -> None:
        """Give every batch the metric ids of its keys, registering keys seen the first time
        and adding them to their tenant's catalogue."""
        unknown: dict[str, tuple[str, int, str, str]] = {}
        for item in writes.placed:
            for key in item.batch.keys:
                text = str(key)
                if text not in self._metric_ids:
                    unknown[text] = _metric_row(key)
        for keys in writes.catalogue.values():
            for text in keys - self._metric_ids.keys():
                unknown.setdefault(text, _metric_row(MetricKey.parse(text)))
        if unknown:
            self._metric_ids.update(await repo.ensure_metrics(conn, unknown))
            self._known = Known(self._known.keys, dict(self._metric_ids))
        await repo.register_catalogue(conn, writes.catalogue, self._metric_ids)
        for index, item in enumerate(writes.placed):
            ids = np.array([self._metric_ids[str(k)] for k in item.batch.keys], dtype=np.int64)
            writes.placed[index] = PlacedBatch(item.batch, ids, item.shift_us, item.draft)

    async def write_dead_letters(self, conn: repo.Conn, writes: Writes) -> None:
        """Store what the budgets allow, count the rest, and give each case its evidence."""
        letters = writes.dead
        if not letters and not writes.evidence:
            return
        windows = {
            (s, window_start_us(d.inbound.received_us)) for d in letters for s in scopes_of(d)
        }
        await evidence_repo.lock_budgets(conn, (scope for scope, _ in windows))
        used = await evidence_repo.hour_usage(conn, windows)
        allocation = allocate(letters, used, self.policy.budgets)
        ids = await evidence_repo.insert_dead_letters(conn, allocation.stored)
        await evidence_repo.add_tally(conn, allocation.tally)
        stored_ids = {
            id(letter): dead_id for letter, dead_id in zip(allocation.stored, ids, strict=True)
        }
        evidence = list(writes.evidence)
        for letter in letters:
            if letter.case is not None:
                item = evidence_repo.dead_letter_evidence(letter, stored_ids.get(id(letter)))
                evidence.append((letter.case, item))
        for robot_id in sorted(allocation.flooded):
            if robot_id in {d.robot_id for d in letters if d.known_robot}:
                counted = sum(1 for d in allocation.counted if d.robot_id == robot_id)
                evidence.append(
                    (
                        conduct(robot_id, "dead_letter_flood"),
                        {"kind": "budget", "counted_not_stored": counted},
                    )
                )
        await evidence_repo.add_evidence(conn, evidence)


COPY_CHUNK_ROWS = 100_000


async def _copy_chunks(columns: SampleColumns) -> AsyncIterator[bytes]:
    """The flush's COPY rows in chunks, each built in a thread while the last one is sent."""
    robots = columns.robot_table()

    def build(start: int) -> bytes:
        part = slice(start, start + COPY_CHUNK_ROWS)
        return telemetry_copy_rows(
            columns.time_us[part],
            robots[columns.robot_index[part]],
            columns.metric_id[part].astype(np.int32),
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


@dataclass(slots=True)
class _ContextSent:
    held: reads.Sent[dict[tuple[uuid.UUID, int], repo.HeldLink]]
    drops: reads.Sent[dict[uuid.UUID, list[repo.HeldDrop]]]
    open_gaps: reads.Sent[dict[uuid.UUID, list[GapPiece]]]
    claims: reads.Sent[dict[tuple[uuid.UUID, int], bytes]]


async def _send_chain_context(conn: repo.Conn, items: list[Parsed]) -> _ContextSent | None:
    """Ask for what is held around the chained messages (seq - 1, seq, seq + 1) and around
    the seq each status says the chain reaches."""
    wanted: list[tuple[uuid.UUID, int]] = []
    for item in items:
        link, message = item.decoded.link, item.decoded.message
        if link is not None:
            # Only seqs the protocol allows: a message at the largest seq has no seq + 1.
            wanted += [
                (item.topic.robot_id, link.seq + delta)
                for delta in (-1, 0, 1)
                if 0 <= link.seq + delta <= MAX_UINT
            ]
        elif isinstance(message, Status) and message.next_seq:
            wanted.append((item.topic.robot_id, message.next_seq - 1))
    robot_ids = sorted({robot for robot, _ in wanted})
    if not robot_ids:
        return None
    return _ContextSent(
        held=await reads.send(conn, reads.held_links(wanted)),
        drops=await reads.send(conn, reads.held_drops(robot_ids)),
        open_gaps=await reads.send(conn, reads.open_gaps(robot_ids)),
        claims=await reads.send(conn, reads.chain_claims(wanted)),
    )


async def _chain_context(sent: _ContextSent | None) -> ChainContext:
    if sent is None:
        return ChainContext()
    return ChainContext(
        held=await sent.held.result(),
        drops=await sent.drops.result(),
        open_gaps=dict(await sent.open_gaps.result()),
        claims=await sent.claims.result(),
    )


def _announced_keys(items: list[Parsed]) -> list[bytes]:
    """The public keys the flush's KEY_ROTATED events announce, before anything is verified."""
    return sorted(
        {
            event.public_key
            for item in items
            if isinstance(item.decoded.message, EventBatch)
            for event in item.decoded.message.events
            if event.kind == EventKind.KEY_ROTATED and event.public_key is not None
        }
    )


def _largest_offsets(items: list[Parsed]) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
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


__all__ = ["FlushOutcome", "FlushPolicy", "Flusher", "Inbound", "Prepared", "Rejected"]
