"""What the writer reads to judge a flush, as queries sent together: each function here makes
a Query, and `fetch` sends several in one pipeline (one round trip) and parses their rows.

Statements of a pipeline run in the order sent, in the flush's transaction: the robots' locks
come first, so what is read after them is read under them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from psycopg import AsyncCursor

from ingest.bridge.gaps import GapPiece
from ingest.bridge.keys import KeySpan
from ingest.bridge.repository import Conn, HeldDrop, HeldLink, RobotRecord

T = TypeVar("T")
Rows = list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Query(Generic[T]):
    """A statement and how to read its rows; with no statement, `parse([])` is the answer."""

    sql: str | None
    params: tuple[Any, ...]
    parse: Callable[[Rows], T]


@dataclass(slots=True)
class Sent(Generic[T]):
    """A query sent in a pipeline: its answer, once the pipeline has synced."""

    query: Query[T]
    cursor: AsyncCursor[tuple[Any, ...]] | None

    async def result(self) -> T:
        return self.query.parse([] if self.cursor is None else await self.cursor.fetchall())


async def send(conn: Conn, query: Query[T]) -> Sent[T]:
    """Send a query (inside `conn.pipeline()`: without waiting for its answer)."""
    if query.sql is None:
        return Sent(query, None)
    return Sent(query, await conn.execute(query.sql, query.params))


async def fetch(conn: Conn, query: Query[T]) -> T:
    return await (await send(conn, query)).result()


def lock_robots(robot_ids: Iterable[uuid.UUID]) -> Query[dict[uuid.UUID, RobotRecord]]:
    """Lock the robots' rows, in id order, for the transaction: one flush at a time judges a
    robot's chain, whichever ingest process it runs in."""
    return Query(
        "SELECT r.id, t.slug, r.status, r.signing_public_key, r.chain_head_seq,"
        " r.presence_reported_at, r.created_at, r.tenant_id, r.presence_connection_seq,"
        " r.presence_state, c.id, c.expires_at FROM robots r JOIN tenants t ON t.id = r.tenant_id"
        " LEFT JOIN credential_rotations c ON c.robot_id = r.id AND c.state = 'requested'"
        " WHERE r.id = ANY(%s) ORDER BY r.id FOR UPDATE OF r",
        (sorted(set(robot_ids)),),
        lambda rows: {row[0]: RobotRecord(*row) for row in rows},
    )


def key_spans(robot_ids: Iterable[uuid.UUID]) -> Query[dict[uuid.UUID, list[KeySpan]]]:
    """Each robot's signing keys with the part of its chain they sign (keys.py)."""

    def parse(rows: Rows) -> dict[uuid.UUID, list[KeySpan]]:
        spans: dict[uuid.UUID, list[KeySpan]] = {}
        for row in rows:
            spans.setdefault(row[0], []).append(KeySpan(row[1], row[2], row[3], row[4]))
        return spans

    return Query(
        "SELECT robot_id, first_seq, last_seq, public_key,"
        " (extract(epoch FROM retired_at) * 1e6)::int8 FROM robot_keys WHERE robot_id = ANY(%s)"
        " ORDER BY robot_id, first_seq",
        (sorted(set(robot_ids)),),
        parse,
    )


def keys_in_use(keys: Sequence[bytes]) -> Query[frozenset[bytes]]:
    """Which of these public keys some robot signs or signed with."""
    return Query(
        "SELECT public_key FROM robot_keys WHERE public_key = ANY(%s)"
        " UNION SELECT signing_public_key FROM robots WHERE signing_public_key = ANY(%s)"
        if keys
        else None,
        (list(keys), list(keys)),
        lambda rows: frozenset(bytes(row[0]) for row in rows),
    )


def merge_clock_offsets(
    offsets: dict[tuple[uuid.UUID, uuid.UUID], int],
) -> Query[dict[tuple[uuid.UUID, uuid.UUID], int]]:
    """Fold each (robot, boot)'s largest offset of this flush into the stored one; the result."""
    pairs = sorted(offsets)
    return Query(
        "INSERT INTO robot_clocks AS c (robot_id, boot_id, max_offset_us)"
        " SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::int8[])"
        " ON CONFLICT (robot_id, boot_id) DO UPDATE SET"
        " max_offset_us = greatest(c.max_offset_us, EXCLUDED.max_offset_us), updated_at = now()"
        " RETURNING robot_id, boot_id, max_offset_us"
        if pairs
        else None,
        ([p[0] for p in pairs], [p[1] for p in pairs], [offsets[p] for p in pairs]),
        lambda rows: {(row[0], row[1]): row[2] for row in rows},
    )


def held_links(
    wanted: Iterable[tuple[uuid.UUID, int]],
) -> Query[dict[tuple[uuid.UUID, int], HeldLink]]:
    pairs = sorted(set(wanted))
    return Query(
        "SELECT b.robot_id, b.seq, b.digest, b.prev_digest FROM batch_receipts b"
        " JOIN unnest(%s::uuid[], %s::bigint[]) AS w(robot_id, seq)"
        " ON b.robot_id = w.robot_id AND b.seq = w.seq"
        if pairs
        else None,
        ([p[0] for p in pairs], [p[1] for p in pairs]),
        lambda rows: {(row[0], row[1]): HeldLink(row[2], row[3]) for row in rows},
    )


def chain_claims(
    wanted: Iterable[tuple[uuid.UUID, int]],
) -> Query[dict[tuple[uuid.UUID, int], bytes]]:
    """The head digests births claimed for these seqs."""
    pairs = sorted(set(wanted))
    return Query(
        "SELECT c.robot_id, c.seq, c.digest FROM chain_claims c"
        " JOIN unnest(%s::uuid[], %s::bigint[]) AS w(robot_id, seq)"
        " ON c.robot_id = w.robot_id AND c.seq = w.seq"
        if pairs
        else None,
        ([p[0] for p in pairs], [p[1] for p in pairs]),
        lambda rows: {(row[0], row[1]): row[2] for row in rows},
    )


def held_drops(robot_ids: Sequence[uuid.UUID]) -> Query[dict[uuid.UUID, list[HeldDrop]]]:
    def parse(rows: Rows) -> dict[uuid.UUID, list[HeldDrop]]:
        drops: dict[uuid.UUID, list[HeldDrop]] = {}
        for row in rows:
            drops.setdefault(row[0], []).append(HeldDrop(row[1], row[2], row[3], row[4]))
        return drops

    return Query(
        "SELECT robot_id, first_seq, last_seq, digest_before, last_digest FROM drop_notices"
        " WHERE robot_id = ANY(%s)",
        (list(robot_ids),),
        parse,
    )


def open_gaps(robot_ids: Sequence[uuid.UUID]) -> Query[dict[uuid.UUID, list[GapPiece]]]:
    def parse(rows: Rows) -> dict[uuid.UUID, list[GapPiece]]:
        gaps: dict[uuid.UUID, list[GapPiece]] = {}
        for row in rows:
            detected: datetime = row[3]
            gaps.setdefault(row[0], []).append(
                GapPiece(row[1], row[2], int(detected.timestamp() * 1e6))
            )
        return gaps

    return Query(
        "SELECT robot_id, first_seq, last_seq, detected_at FROM sequence_gaps"
        " WHERE robot_id = ANY(%s) AND closed_at IS NULL ORDER BY robot_id, first_seq",
        (list(robot_ids),),
        parse,
    )
