"""The outbox: chain state persisted with each message, acks delete, the disk budget drops the
oldest telemetry first, keeps events, and counts and reports every dropped sample."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import numpy as np

from edge_agent.origin import Origin
from edge_agent.outbox import Outbox, StoredMessage
from firmware_protocol import (
    ChainedMessage,
    DropNotice,
    DropReason,
    Event,
    EventBatch,
    EventKind,
    MessageKind,
    RobotSigner,
    SeqRange,
    TelemetryBatch,
    decode,
    payload_digest,
    verify,
)

SIGNER = RobotSigner.from_seed(bytes(range(32)))
ORIGIN = Origin(uuid.UUID("6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"))
RNG = np.random.default_rng(7)


def _telemetry(samples: int = 200, metrics: int = 16):  # type: ignore[no-untyped-def]
    values = RNG.normal(20, 5, (metrics, samples))

    def build(seq: int, prev_digest: bytes) -> ChainedMessage:
        return TelemetryBatch.from_values(
            robot_id=ORIGIN.robot_id, boot_id=ORIGIN.boot_id, seq=seq, prev_digest=prev_digest,
            wall_us=1, mono_us=1, timestamps_us=np.arange(1, samples + 1) * 1000,
            series={f"joint_temperature_c.{m + 1}": values[m] for m in range(metrics)},
        )  # fmt: skip

    return build, samples * metrics


def _events(seq: int, prev_digest: bytes) -> ChainedMessage:
    event = Event(EventKind.COLLISION, 5, value=120.0)
    return EventBatch(ORIGIN.robot_id, ORIGIN.boot_id, seq, prev_digest, 1, 1, (event,))


def _outbox(path: Path, budget: int) -> Outbox:
    return Outbox(path, SIGNER, ORIGIN, budget_bytes=budget, low_water=0.8, compress=False)


def _all_rows(path: Path) -> dict[int, bytes]:
    with sqlite3.connect(path) as db:
        return {int(s): bytes(p) for s, p in db.execute("SELECT seq, payload FROM messages")}


def test_chain_state_is_stored_with_each_message_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = _outbox(path, 1 << 20)
    build, samples = _telemetry()
    first = outbox.append(build, samples=samples)
    outbox.close()
    again = _outbox(path, 1 << 20)
    second = again.append(_events)
    decoded = [decode(m.payload) for m in (first, second)]
    for d in decoded:
        verify(d, SIGNER.public_key)
    assert [d.link.seq for d in decoded if d.link] == [0, 1]
    assert decoded[1].link is not None
    assert decoded[1].link.prev_digest == decoded[0].digest
    assert again.stats().next_seq == 2


def test_acks_delete_only_the_committed_messages(tmp_path: Path) -> None:
    outbox = _outbox(tmp_path / "o.sqlite3", 1 << 20)
    for _ in range(5):
        outbox.append(_events)
    assert outbox.acknowledge([SeqRange(0, 1), SeqRange(3, 3)]) == 3
    assert [m.seq for m in outbox.pending(-1, 10)] == [2, 4]
    assert outbox.first_pending_seq() == 2
    assert outbox.stats().pending_bytes == sum(len(m.payload) for m in outbox.pending(-1, 10))


def test_an_exhausted_budget_drops_the_oldest_telemetry_keeps_events_and_counts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.sqlite3"
    budget = 64 * 1024
    outbox = _outbox(path, budget)
    created: dict[int, StoredMessage] = {}
    samples_of: dict[int, int] = {}
    for i in range(60):
        if i % 5 == 2:
            stored = outbox.append(_events)
        else:
            build, samples = _telemetry()
            stored = outbox.append(build, samples=samples)
            samples_of[stored.seq] = samples
        created[stored.seq] = stored
        assert outbox.stats().pending_bytes <= budget
    rows = _all_rows(path)
    notices = {s: decode(p).message for s, p in rows.items() if s not in created}
    assert notices
    assert all(isinstance(n, DropNotice) for n in notices.values())
    dropped = sorted(set(created) - set(rows))
    # Oldest telemetry first, never an event: every dropped seq is telemetry, and every
    # telemetry message older than the newest dropped one is gone.
    assert all(created[s].kind == MessageKind.TELEMETRY for s in dropped)
    assert all(
        created[s].kind == MessageKind.EVENTS for s in created if s < dropped[-1] and s in rows
    )
    assert all(
        created[s].kind == MessageKind.EVENTS or s in rows for s in created if s > dropped[-1]
    )
    # The notices name exactly the dropped seqs, in contiguous ranges, with the digests that
    # bridge the holes, and count the bytes and the samples (protocol 1.1).
    covered = sorted(
        s for n in notices.values() if isinstance(n, DropNotice)
        for s in range(n.first_seq, n.last_seq + 1)
    )  # fmt: skip
    assert covered == dropped
    digest = {s: payload_digest(m.payload) for s, m in created.items()}
    for notice in notices.values():
        assert isinstance(notice, DropNotice)
        assert notice.reason == DropReason.DISK_BUDGET
        first = decode(created[notice.first_seq].payload).link
        assert first is not None
        assert notice.digest_before == first.prev_digest
        assert notice.last_digest == digest[notice.last_seq]
        assert notice.dropped_bytes == sum(
            len(created[s].payload) for s in range(notice.first_seq, notice.last_seq + 1)
        )
        assert notice.dropped_samples == sum(
            samples_of[s] for s in range(notice.first_seq, notice.last_seq + 1)
        )
        assert notice.last_seq < notice.seq
    stats = outbox.stats()
    assert stats.dropped_messages == len(dropped)
    assert stats.dropped_samples == sum(samples_of[s] for s in dropped)
    assert stats.dropped_bytes == sum(len(created[s].payload) for s in dropped)
    # The counters survive a restart.
    outbox.close()
    assert _outbox(path, budget).stats().dropped_samples == stats.dropped_samples


def test_events_are_dropped_only_when_no_telemetry_is_left(tmp_path: Path) -> None:
    outbox = _outbox(tmp_path / "o.sqlite3", 4 * 1024)
    for _ in range(40):
        outbox.append(_events)
    stats = outbox.stats()
    assert stats.dropped_messages > 0
    assert stats.dropped_samples == 0
    assert stats.pending_bytes <= 4 * 1024
