"""The durable outbox: every chained message is signed and stored here before it is sent, and
deleted only when the cloud's commit ack for it arrives.

SQLite in WAL mode. One transaction per message takes the next seq and the last digest from the
`chain` row, signs the message, inserts it and advances the chain, so the chain state on disk
always matches the messages that exist: a crash (kill -9, power loss) can neither reuse a seq nor
skip one. Appends commit with ``synchronous=FULL`` (the WAL is fsynced: a message that may already
be on the wire is never rolled back by a power cut, which would fork the chain); deletions after
acks use ``NORMAL`` (losing one only means sending a message again, which the cloud ignores).

Disk budget: the payload bytes held may not exceed ``budget_bytes``, nor the file system's free
space fall under ``headroom_bytes``. When a new message would break either, the oldest telemetry is
dropped first, down to ``low_water`` of the budget (so drops come in batches, not on every insert);
events and drop notices are kept, and events are dropped only when no telemetry is left. Every
contiguous run of dropped seqs gets a signed DropNotice (itself chained), and the dropped samples
and bytes are counted in the `chain` row, across restarts.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edge_agent.origin import Origin
from firmware_protocol import (
    ChainedMessage,
    DropNotice,
    DropReason,
    MessageKind,
    RobotSigner,
    SeqRange,
    encode,
    payload_digest,
)

ZERO_DIGEST = bytes(32)
SCHEMA = """
CREATE TABLE IF NOT EXISTS chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq INTEGER NOT NULL,
    last_digest BLOB NOT NULL,
    dropped_messages INTEGER NOT NULL DEFAULT 0,
    dropped_samples INTEGER NOT NULL DEFAULT 0,
    dropped_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    payload BLOB NOT NULL,
    digest BLOB NOT NULL,
    prev_digest BLOB NOT NULL,
    samples INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
INSERT OR IGNORE INTO chain (id, next_seq, last_digest) VALUES (1, 0, zeroblob(32));
"""
# Droppable first, in this order: telemetry, then events. Drop notices are never dropped.
DROP_ORDER = (MessageKind.TELEMETRY, MessageKind.EVENTS)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    kind: MessageKind
    payload: bytes


@dataclass(frozen=True, slots=True)
class OutboxStats:
    next_seq: int
    pending_messages: int
    pending_bytes: int
    dropped_messages: int
    dropped_samples: int
    dropped_bytes: int


# Builds a chained message for (seq, prev_digest, wall_us, mono_us).
MessageFactory = Callable[[int, bytes], ChainedMessage]


class Outbox:
    """Thread-safe: the sampler appends, the publisher reads and deletes."""

    def __init__(
        self,
        path: Path,
        signer: RobotSigner,
        origin: Origin,
        *,
        budget_bytes: int,
        headroom_bytes: int = 0,
        low_water: float = 0.9,
        compress: bool = True,
    ) -> None:
        if not 0 < low_water <= 1:
            raise ValueError("low_water must be in (0, 1]")
        self.path = path
        self._signer = signer
        self.origin = origin
        self.budget_bytes = budget_bytes
        self.headroom_bytes = headroom_bytes
        self.low_water = low_water
        self.compress = compress
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # Bound the WAL file on an SD card: truncated back to 4 MiB after each checkpoint.
        self._db.execute("PRAGMA journal_size_limit=4194304")
        self._db.executescript(SCHEMA)
        self._pending_bytes = int(
            self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM messages").fetchone()[0]
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ appending

    def append(self, build: MessageFactory, *, samples: int = 0) -> StoredMessage:
        """Sign and store the message `build(seq, prev_digest)` makes, making room first."""
        with self._transaction(durable=True) as db:
            stored = self._append_locked(db, build, samples)
            self._enforce_budget_locked(db, stored.seq)
            return stored

    def _append_locked(
        self, db: sqlite3.Connection, build: MessageFactory, samples: int
    ) -> StoredMessage:
        next_seq, last_digest = db.execute(
            "SELECT next_seq, last_digest FROM chain WHERE id = 1"
        ).fetchone()
        message = build(int(next_seq), bytes(last_digest))
        payload = encode(message, self._signer, compress=self.compress)
        digest = payload_digest(payload)
        db.execute(
            "INSERT INTO messages (seq, kind, payload, digest, prev_digest, samples, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                next_seq,
                int(message.KIND),
                payload,
                digest,
                bytes(last_digest),
                samples,
                time.time(),
            ),
        )
        db.execute(
            "UPDATE chain SET next_seq = ?, last_digest = ? WHERE id = 1", (next_seq + 1, digest)
        )
        self._pending_bytes += len(payload)
        return StoredMessage(int(next_seq), message.KIND, payload)

    def _limit_locked(self) -> int:
        """The bytes the outbox may hold now: the budget, or less if the disk runs short."""
        limit = self.budget_bytes
        if self.headroom_bytes:
            free = shutil.disk_usage(self.path.parent).free
            limit = min(limit, self._pending_bytes + free - self.headroom_bytes)
        return max(limit, 0)

    def _enforce_budget_locked(self, db: sqlite3.Connection, newest: int) -> None:
        limit = self._limit_locked()
        if self._pending_bytes <= limit:
            return
        target = int(limit * self.low_water)
        dropped: list[tuple[int, bytes, bytes, int, int]] = []
        for kind in DROP_ORDER:
            rows = db.execute(
                "SELECT seq, prev_digest, digest, samples, length(payload) FROM messages "
                "WHERE kind = ? AND seq < ? ORDER BY seq",
                (int(kind), newest),
            )
            for seq, prev_digest, digest, samples, size in rows:
                if self._pending_bytes <= target:
                    break
                dropped.append((seq, bytes(prev_digest), bytes(digest), samples, size))
                self._pending_bytes -= size
            if self._pending_bytes <= target:
                break
        if not dropped:
            return
        db.executemany("DELETE FROM messages WHERE seq = ?", [(row[0],) for row in dropped])
        db.execute(
            "UPDATE chain SET dropped_messages = dropped_messages + ?, "
            "dropped_samples = dropped_samples + ?, dropped_bytes = dropped_bytes + ? WHERE id = 1",
            (len(dropped), sum(r[3] for r in dropped), sum(r[4] for r in dropped)),
        )
        for run in _contiguous_runs(sorted(dropped)):
            self._append_locked(db, _drop_notice_factory(self, run), 0)

    # ------------------------------------------------------------------ sending side

    def pending(self, after_seq: int, limit: int) -> list[StoredMessage]:
        """Up to `limit` stored messages with seq > after_seq, in seq order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, payload FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [StoredMessage(int(s), MessageKind(k), bytes(p)) for s, k, p in rows]

    def first_pending_seq(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT min(seq) FROM messages").fetchone()
        return None if row[0] is None else int(row[0])

    def acknowledge(self, committed: Iterable[SeqRange]) -> int:
        """Forget the messages the cloud committed; returns how many were deleted."""
        ranges = [(r.first, r.last) for r in committed]
        with self._transaction(durable=False) as db:
            deleted = 0
            for first, last in ranges:
                size = db.execute(
                    "SELECT coalesce(sum(length(payload)), 0) FROM messages "
                    "WHERE seq BETWEEN ? AND ?",
                    (first, last),
                ).fetchone()[0]
                cursor = db.execute("DELETE FROM messages WHERE seq BETWEEN ? AND ?", (first, last))
                deleted += cursor.rowcount
                self._pending_bytes -= int(size)
            return deleted

    # ------------------------------------------------------------------ state

    def stats(self) -> OutboxStats:
        with self._lock:
            chain = self._db.execute(
                "SELECT next_seq, dropped_messages, dropped_samples, dropped_bytes FROM chain"
            ).fetchone()
            count = self._db.execute("SELECT count(*) FROM messages").fetchone()[0]
        return OutboxStats(
            next_seq=int(chain[0]),
            pending_messages=int(count),
            pending_bytes=self._pending_bytes,
            dropped_messages=int(chain[1]),
            dropped_samples=int(chain[2]),
            dropped_bytes=int(chain[3]),
        )

    def head(self) -> tuple[int, bytes]:
        """(next_seq, digest of message next_seq - 1): what a status says of the chain."""
        with self._lock:
            row = self._db.execute("SELECT next_seq, last_digest FROM chain").fetchone()
        return int(row[0]), bytes(row[1])

    def next_counter(self, key: str) -> int:
        """Add one to the integer kept under `key`, durably, and return it (connection_seq:
        never reused, across restarts, like seq)."""
        with self._transaction(durable=True) as db:
            row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            value = (int(bytes(row[0])) if row else 0) + 1
            _set_state(db, key, str(value).encode())
            return value

    @property
    def signer(self) -> RobotSigner:
        return self._signer

    def replace_signer(self, signer: RobotSigner) -> None:
        """At start, after a rotation a crash left half done was completed (rotation.py)."""
        with self._lock:
            self._signer = signer

    def rotate_key(
        self, build: MessageFactory, new_signer: RobotSigner, state_key: str, state: bytes
    ) -> StoredMessage:
        """Append `build`'s message (the KEY_ROTATED event) signed with the current key, and
        record `state` under `state_key`, in one durable transaction; from then on every
        message is signed with `new_signer`."""
        with self._lock:
            db = self._db
            db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN IMMEDIATE")
            try:
                stored = self._append_locked(db, build, 0)
                _set_state(db, state_key, state)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            # Still under the lock: no message is signed with the old key after this one.
            self._signer = new_signer
            return stored

    def get_state(self, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_state(self, key: str, value: bytes) -> None:
        with self._transaction(durable=True) as db:
            _set_state(db, key, value)


def _set_state(db: sqlite3.Connection, key: str, value: bytes) -> None:
    db.execute(
        "INSERT INTO state (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _contiguous_runs(
    rows: list[tuple[int, bytes, bytes, int, int]],
) -> Iterator[list[tuple[int, bytes, bytes, int, int]]]:
    run: list[tuple[int, bytes, bytes, int, int]] = []
    for row in rows:
        if run and row[0] != run[-1][0] + 1:
            yield run
            run = []
        run.append(row)
    if run:
        yield run


def _drop_notice_factory(
    outbox: Outbox, run: list[tuple[int, bytes, bytes, int, int]]
) -> MessageFactory:
    origin = outbox.origin

    def build(seq: int, prev_digest: bytes) -> ChainedMessage:
        return DropNotice(
            **origin.chain_fields(seq, prev_digest),
            first_seq=run[0][0],
            last_seq=run[-1][0],
            digest_before=run[0][1],
            last_digest=run[-1][2],
            reason=DropReason.DISK_BUDGET,
            dropped_bytes=sum(r[4] for r in run),
            dropped_samples=sum(r[3] for r in run),
        )

    return build
