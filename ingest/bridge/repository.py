"""The bridge's queries, on an async psycopg connection inside the flush's transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from ingest.bridge.copy_format import COPY_HEADER, COPY_TRAILER, TELEMETRY_COLUMNS
from ingest.bridge.gaps import GapPiece
from ingest.bridge.rollups import HourlyRollup


def to_datetime(epoch_us: int) -> datetime:
    return datetime.fromtimestamp(epoch_us / 1e6, tz=UTC)


@dataclass(frozen=True, slots=True)
class RobotRecord:
    robot_id: uuid.UUID
    tenant_slug: str
    status: str
    public_key: bytes | None
    chain_head_seq: int | None
    presence_reported_at: datetime | None
    registered_at: datetime
    tenant_id: uuid.UUID
    presence_connection_seq: int | None
    presence_state: int | None
    rotation_id: int | None
    """The robot's credential rotation awaiting its KEY_ROTATED message, if any."""
    rotation_expires_at: datetime | None
    """Until when a message under a key not yet announced is waited for, not refused."""


@dataclass(frozen=True, slots=True)
class HeldLink:
    digest: bytes
    prev_digest: bytes


@dataclass(frozen=True, slots=True)
class HeldDrop:
    first_seq: int
    last_seq: int
    digest_before: bytes
    last_digest: bytes


Conn = AsyncConnection[tuple[Any, ...]]


async def record_claims(conn: Conn, claims: dict[tuple[uuid.UUID, int], bytes]) -> None:
    if not claims:
        return
    pairs = sorted(claims)
    await conn.execute(
        "INSERT INTO chain_claims (robot_id, seq, digest)"
        " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::bytea[]) ON CONFLICT DO NOTHING",
        ([p[0] for p in pairs], [p[1] for p in pairs], [claims[p] for p in pairs]),
    )


async def save_gaps(
    conn: Conn, robot_id: uuid.UUID, open_pieces: list[GapPiece], closed: list[GapPiece]
) -> None:
    """Replace the robot's open gaps by the given state, and keep the closed pieces."""
    await conn.execute(
        "DELETE FROM sequence_gaps WHERE robot_id = %s AND closed_at IS NULL", (robot_id,)
    )
    rows = [
        (robot_id, p.first_seq, p.last_seq, to_datetime(p.detected_at_us), p.resolution)
        for p in [*open_pieces, *closed]
    ]
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO sequence_gaps (robot_id, first_seq, last_seq, detected_at,"
                " resolution, closed_at) VALUES (%s, %s, %s, %s, %s,"
                " CASE WHEN %s::text IS NULL THEN NULL ELSE now() END)",
                [(*row, row[4]) for row in rows],
            )


async def tenant_catalogues(
    conn: Conn, tenant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    """The metric keys each tenant's robots have registered."""
    cursor = await conn.execute(
        "SELECT tm.tenant_id, m.key FROM tenant_metrics tm JOIN metrics m ON m.id = tm.metric_id"
        " WHERE tm.tenant_id = ANY(%s)",
        (list(tenant_ids),),
    )
    catalogues: dict[uuid.UUID, set[str]] = {tenant: set() for tenant in tenant_ids}
    for tenant, key in await cursor.fetchall():
        catalogues[tenant].add(key)
    return catalogues


async def register_catalogue(
    conn: Conn, keys: dict[uuid.UUID, set[str]], metric_ids: dict[str, int]
) -> None:
    """Add keys to their tenants' catalogues."""
    pairs = sorted((tenant, metric_ids[key]) for tenant, new in keys.items() for key in new)
    if pairs:
        await conn.execute(
            "INSERT INTO tenant_metrics (tenant_id, metric_id)"
            " SELECT * FROM unnest(%s::uuid[], %s::int4[]) ON CONFLICT DO NOTHING",
            ([p[0] for p in pairs], [p[1] for p in pairs]),
        )


async def ensure_metrics(
    conn: Conn, wanted: dict[str, tuple[str, int, str, str]]
) -> dict[str, int]:
    """Ids of metric keys, registering new ones: key -> (name, channel, unit, description)."""
    if not wanted:
        return {}
    keys = sorted(wanted)
    cursor = await conn.execute(
        "INSERT INTO metrics (key, name, channel, unit, description)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::int2[], %s::text[], %s::text[])"
        " ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING key, id",
        (
            keys,
            [wanted[k][0] for k in keys],
            [wanted[k][1] for k in keys],
            [wanted[k][2] for k in keys],
            [wanted[k][3] for k in keys],
        ),
    )
    return {row[0]: row[1] for row in await cursor.fetchall()}


async def copy_telemetry(conn: Conn, chunks: AsyncIterator[bytes]) -> None:
    """One binary COPY into telemetry, fed chunk by chunk as they are built, so that building
    the next chunk overlaps PostgreSQL's work on the last."""
    columns = ", ".join(TELEMETRY_COLUMNS)
    async with (
        conn.cursor() as cur,
        cur.copy(f"COPY telemetry ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        await copy.write(COPY_HEADER)
        async for chunk in chunks:
            await copy.write(chunk)
        await copy.write(COPY_TRAILER)


async def insert_receipts(conn: Conn, rows: list[tuple[object, ...]]) -> None:
    """rows: (robot_id, seq, kind, digest, prev_digest, boot_id, device_time, received_at,
    clock_offset_s, clock_shift_s, sample_count); one statement for them all."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO batch_receipts (robot_id, seq, kind, digest, prev_digest, boot_id,"
        " device_time, received_at, clock_offset_s, clock_shift_s, sample_count)"
        " SELECT * FROM unnest(%s::uuid[], %s::int8[], %s::text[], %s::bytea[], %s::bytea[],"
        " %s::uuid[], %s::timestamptz[], %s::timestamptz[], %s::float8[], %s::float8[],"
        " %s::int4[])",
        tuple(list(column) for column in zip(*rows, strict=True)),
    )


async def upsert_rollups(conn: Conn, rollup: HourlyRollup, robots: list[uuid.UUID]) -> None:
    if len(rollup) == 0:
        return
    robot_ids = [robots[i] for i in rollup.robot_index.tolist()]
    buckets = [to_datetime(b) for b in rollup.bucket_us.tolist()]
    last_times = [to_datetime(t) for t in rollup.last_time_us.tolist()]
    await conn.execute(
        "INSERT INTO telemetry_hourly AS h (robot_id, metric_id, bucket, samples, total,"
        " total_sq, minimum, maximum, last_time, last_value)"
        " SELECT * FROM unnest(%s::uuid[], %s::int4[], %s::timestamptz[], %s::int8[],"
        " %s::float8[], %s::float8[], %s::float8[], %s::float8[], %s::timestamptz[],"
        " %s::float8[])"
        " ON CONFLICT (robot_id, metric_id, bucket) DO UPDATE SET"
        " samples = h.samples + EXCLUDED.samples, total = h.total + EXCLUDED.total,"
        " total_sq = h.total_sq + EXCLUDED.total_sq,"
        " minimum = least(h.minimum, EXCLUDED.minimum),"
        " maximum = greatest(h.maximum, EXCLUDED.maximum),"
        " last_value = CASE WHEN EXCLUDED.last_time >= h.last_time"
        " THEN EXCLUDED.last_value ELSE h.last_value END,"
        " last_time = greatest(h.last_time, EXCLUDED.last_time), updated_at = now()",
        (
            robot_ids,
            rollup.metric_id.tolist(),
            buckets,
            rollup.samples.tolist(),
            rollup.total.tolist(),
            rollup.total_sq.tolist(),
            rollup.minimum.tolist(),
            rollup.maximum.tolist(),
            last_times,
            rollup.last_value.tolist(),
        ),
    )


async def insert_events(conn: Conn, rows: list[tuple[object, ...]]) -> None:
    """rows: (time, robot_id, seq, position, kind, code, severity, detail_json)."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO robot_events (time, robot_id, seq, position, kind, code, severity,"
            " detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
            rows,
        )


async def insert_drop_notices(conn: Conn, rows: list[tuple[object, ...]]) -> None:
    """rows: (robot_id, notice_seq, first_seq, last_seq, reason, dropped_bytes, digest_before,
    last_digest, dropped_samples); dropped_samples is None from robots on protocol 1.0."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO drop_notices (robot_id, notice_seq, first_seq, last_seq, reason,"
            " dropped_bytes, digest_before, last_digest, dropped_samples)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


async def advance_chain_heads(conn: Conn, heads: dict[uuid.UUID, tuple[int, bytes]]) -> None:
    """Move each robot's chain head forward (never back) and mark it seen; one statement."""
    if not heads:
        return
    robots = sorted(heads)
    await conn.execute(
        "UPDATE robots r SET chain_head_seq = CASE WHEN r.chain_head_seq IS NULL"
        " OR r.chain_head_seq < h.seq THEN h.seq ELSE r.chain_head_seq END,"
        " chain_head_digest = CASE WHEN r.chain_head_seq IS NULL OR r.chain_head_seq < h.seq"
        " THEN h.digest ELSE r.chain_head_digest END, last_seen_at = now()"
        " FROM unnest(%s::uuid[], %s::int8[], %s::bytea[]) AS h(id, seq, digest)"
        " WHERE r.id = h.id",
        (robots, [heads[r][0] for r in robots], [heads[r][1] for r in robots]),
    )


async def record_presence(conn: Conn, rows: list[tuple[object, ...]]) -> None:
    """rows: (online, reported_at, boot_id, firmware_version, software_version, connection_seq,
    state, robot_id): the newest status of each robot (judge.py decides which is newest)."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "UPDATE robots SET online = %s, presence_reported_at = %s, boot_id = %s,"
            " firmware_version = coalesce(%s, firmware_version),"
            " software_version = coalesce(%s, software_version), presence_connection_seq = %s,"
            " presence_state = %s, last_seen_at = now() WHERE id = %s",
            rows,
        )
