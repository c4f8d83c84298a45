"""The bridge's queries for what it refuses and suspects: dead letters within their budgets,
the tallies of those budgets, review cases and their evidence, and confirmed key rotations.
On an async psycopg connection inside the flush's transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from ingest.bridge.budget import Usage
from ingest.bridge.repository import Conn, to_datetime
from ingest.bridge.writes import CaseKey, DeadLetter, KeyRotation

MAX_EVIDENCE_ITEMS = 100
INGEST_ACTOR = "ingest"


async def hour_usage(conn: Conn, scopes: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Usage]:
    """What each (scope, window start) has stored so far, locked for this transaction so that
    two ingest processes do not both spend the same budget."""
    keys = sorted(set(scopes))
    if not keys:
        return {}
    cursor = await conn.execute(
        "SELECT scope, (extract(epoch FROM window_start) * 1e6)::int8, sum(stored_messages),"
        " sum(stored_bytes) FROM dead_letter_tally"
        " WHERE (scope, window_start) IN (SELECT * FROM unnest(%s::text[], %s::timestamptz[]))"
        " GROUP BY scope, window_start",
        ([k[0] for k in keys], [to_datetime(k[1]) for k in keys]),
    )
    return {(row[0], row[1]): Usage(int(row[2]), int(row[3])) for row in await cursor.fetchall()}


async def lock_budgets(conn: Conn, scopes: Iterable[str]) -> None:
    """One flush at a time spends a scope's budget, whichever process it runs in."""
    for scope in sorted(set(scopes)):
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('dead-letters:' || %s))", (scope,)
        )


async def add_tally(conn: Conn, tally: dict[tuple[str, int, str], list[int]]) -> None:
    if not tally:
        return
    rows = [
        (scope, to_datetime(window), reason, *counts)
        for (scope, window, reason), counts in sorted(tally.items())
    ]
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO dead_letter_tally AS t (scope, window_start, reason, stored_messages,"
            " stored_bytes, counted_messages, counted_bytes) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (scope, window_start, reason) DO UPDATE SET"
            " stored_messages = t.stored_messages + EXCLUDED.stored_messages,"
            " stored_bytes = t.stored_bytes + EXCLUDED.stored_bytes,"
            " counted_messages = t.counted_messages + EXCLUDED.counted_messages,"
            " counted_bytes = t.counted_bytes + EXCLUDED.counted_bytes",
            rows,
        )


async def insert_dead_letters(conn: Conn, letters: list[DeadLetter]) -> list[int]:
    """Store the dead letters with their bytes; their ids, in order."""
    if not letters:
        return []
    ids: list[int] = []
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO dead_letters (received_at, topic, payload, reason, detail, robot_id,"
            " tenant) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [
                (
                    to_datetime(letter.inbound.received_us),
                    letter.inbound.topic,
                    letter.inbound.payload,
                    letter.reason,
                    letter.detail,
                    letter.robot_id if letter.known_robot else None,
                    letter.tenant,
                )
                for letter in letters
            ],
            returning=True,
        )
        while True:
            row = await cur.fetchone()
            if row is not None:
                ids.append(int(row[0]))
            if not cur.nextset():
                break
    return ids


def dead_letter_evidence(letter: DeadLetter, dead_letter_id: int | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": "dead_letter",
        "reason": letter.reason,
        "received_at": to_datetime(letter.inbound.received_us).isoformat(),
        "dead_letter_id": dead_letter_id,
        "stored": dead_letter_id is not None,
        "detail": letter.detail,
    }
    item.update({k: v for k, v in letter.evidence.items() if v is not None})
    return item


async def add_evidence(conn: Conn, evidence: list[tuple[CaseKey, dict[str, Any]]]) -> None:
    """Append evidence to each robot's open case of its category, opening one (with an audit
    row) where none is open. A case keeps its first MAX_EVIDENCE_ITEMS items and counts all."""
    grouped: dict[tuple[uuid.UUID, str], tuple[str, list[dict[str, Any]]]] = {}
    for case, item in evidence:
        reason, items = grouped.setdefault((case.robot_id, case.category), (case.reason, []))
        items.append(item)
    for (robot_id, category), (reason, items) in sorted(grouped.items()):
        cursor = await conn.execute(
            "INSERT INTO review_cases AS c (robot_id, category, reason, evidence, evidence_count)"
            " VALUES (%s, %s, %s, %s::jsonb, %s)"
            " ON CONFLICT (robot_id, category) WHERE status = 'open' DO UPDATE SET"
            " evidence = (SELECT coalesce(jsonb_agg(e ORDER BY n), '[]'::jsonb) FROM"
            " jsonb_array_elements(c.evidence || EXCLUDED.evidence) WITH ORDINALITY AS x(e, n)"
            " WHERE n <= %s), evidence_count = c.evidence_count + EXCLUDED.evidence_count,"
            " last_evidence_at = now() RETURNING id, (xmax = 0)",
            (
                robot_id,
                category,
                reason,
                json.dumps(items[:MAX_EVIDENCE_ITEMS]),
                len(items),
                MAX_EVIDENCE_ITEMS,
            ),
        )
        row = await cursor.fetchone()
        if row is not None and row[1]:
            await conn.execute(
                "INSERT INTO review_case_actions (case_id, actor, action, note)"
                " VALUES (%s, %s, 'opened', %s)",
                (row[0], INGEST_ACTOR, reason),
            )


async def confirm_rotations(conn: Conn, rotations: list[KeyRotation]) -> None:
    """A robot's KEY_ROTATED message took its place in the chain: the old key ends at its seq,
    the new key signs from the next, and the rotation request is confirmed."""
    for rotation in rotations:
        # A robot whose first key predates robot_keys signs its chain from 0 with it.
        await conn.execute(
            "INSERT INTO robot_keys (robot_id, first_seq, public_key)"
            " SELECT id, 0, signing_public_key FROM robots WHERE id = %s"
            " AND NOT EXISTS (SELECT 1 FROM robot_keys WHERE robot_id = %s)",
            (rotation.robot_id, rotation.robot_id),
        )
        await conn.execute(
            "UPDATE robot_keys SET last_seq = %s, retired_at = now()"
            " WHERE robot_id = %s AND last_seq IS NULL",
            (rotation.seq, rotation.robot_id),
        )
        await conn.execute(
            "INSERT INTO robot_keys (robot_id, first_seq, public_key, rotation_id)"
            " VALUES (%s, %s, %s, %s)",
            (rotation.robot_id, rotation.seq + 1, rotation.public_key, rotation.rotation_id),
        )
        await conn.execute(
            "UPDATE robots SET signing_public_key = %s WHERE id = %s",
            (rotation.public_key, rotation.robot_id),
        )
        await conn.execute(
            "UPDATE credential_rotations SET state = 'confirmed', confirmed_at = now(),"
            " confirmed_seq = %s, new_public_key = %s WHERE id = %s AND state = 'requested'",
            (rotation.seq, rotation.public_key, rotation.rotation_id),
        )
        await conn.execute(
            "INSERT INTO robot_actions (robot_id, actor, action, detail)"
            " VALUES (%s, %s, 'key_rotated', %s::jsonb)",
            (
                rotation.robot_id,
                INGEST_ACTOR,
                json.dumps({"rotation_id": rotation.rotation_id, "seq": rotation.seq}),
            ),
        )
