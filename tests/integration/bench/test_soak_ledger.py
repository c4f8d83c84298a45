"""The soak's ledger: each robot's outbox (what it made, what is still pending, what it dropped)
against the receipts on the real database. A pending message whose receipt is stored is an
ack that came late, not a loss; a seq neither stored, pending nor dropped is lost."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg

from bench.soak_check import OUTBOX_FILE, count_ledger
from database.settings import CloudSettings
from firmware_protocol import RobotSigner
from tests.support.fleet import register_robot


def outbox(state_dir: Path, next_seq: int, pending: list[int], dropped: int = 0) -> None:
    """The two tables of a robot's outbox the ledger reads (edge_agent/outbox.py's schema)."""
    state_dir.mkdir(parents=True)
    with sqlite3.connect(state_dir / OUTBOX_FILE) as db:
        db.execute("CREATE TABLE chain (id INTEGER PRIMARY KEY, next_seq INTEGER NOT NULL,"
                   " dropped_messages INTEGER NOT NULL)")  # fmt: skip
        db.execute("CREATE TABLE messages (seq INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO chain VALUES (1, ?, ?)", (next_seq, dropped))
        db.executemany("INSERT INTO messages VALUES (?)", [(seq,) for seq in pending])


def receipts(url: str, robot_id: uuid.UUID, seqs: list[int]) -> None:
    with psycopg.connect(url) as conn:
        for seq in seqs:
            conn.execute(
                "INSERT INTO batch_receipts (robot_id, seq, kind, digest, prev_digest, boot_id,"
                " device_time, clock_offset_s, clock_shift_s, sample_count)"
                " VALUES (%s, %s, 'telemetry', %s, %s, %s, now(), 0, 0, 0)",
                (robot_id, seq, bytes(32), bytes(32), uuid.uuid4()),
            )


def test_pending_messages_already_stored_are_counted_apart_and_gaps_are_lost(
    fresh_database: CloudSettings, tmp_path: Path
) -> None:
    url = fresh_database.libpq_url
    robots: list[Any] = []
    # (made, stored, pending, dropped): an ack late; one pending not stored; two lost; a drop
    for made, stored, pending, dropped in (
        (5, [0, 1, 2, 3, 4], [4], 0),
        (4, [0, 1, 2], [3], 0),
        (3, [0], [], 0),
        (3, [0, 2], [], 1),
    ):
        robot_id = register_robot(url, RobotSigner.generate())
        state_dir = tmp_path / str(robot_id)
        outbox(state_dir, made, pending, dropped)
        receipts(url, robot_id, stored)
        robots.append(SimpleNamespace(robot_id=str(robot_id), state_dir=state_dir))

    ledger = count_ledger(fresh_database, robots)

    assert (ledger.robots, ledger.messages_made, ledger.receipts) == (4, 15, 11)
    assert (ledger.messages_pending, ledger.pending_stored) == (2, 1)
    assert ledger.messages_dropped == 1
    assert ledger.messages_lost == 2  # the third robot's seqs 1 and 2
