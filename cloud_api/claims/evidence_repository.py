"""The queries behind a claim's telemetry evidence: each bounded by the robot and the window
(TimescaleDB chunks and the robot-time indexes), each returning few rows however much the
robot sent (aggregates are computed by the database)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

MAX_EVENTS = 2000
# A batch's time is on the cloud's clock: the device's, corrected by the ingest's shift.

_EVENTS = text(
    "SELECT time, kind, code, severity, seq, detail FROM robot_events"
    " WHERE robot_id = :robot AND time >= :start AND time < :end ORDER BY time, seq, position"
    " LIMIT :limit"
)
_HOURLY = text(
    "SELECT m.key, m.name, m.unit, h.bucket, h.samples, h.total, h.minimum, h.maximum"
    " FROM telemetry_hourly h JOIN metrics m ON m.id = h.metric_id"
    " WHERE h.robot_id = :robot AND h.bucket >= date_trunc('hour', CAST(:start AS timestamptz))"
    " AND h.bucket < :end ORDER BY m.key, h.bucket"
)
_CLOSE_UP = text(
    "SELECT m.key, time_bucket(CAST(:step AS interval), t.time) AS minute, count(*) AS samples,"
    " avg(t.value) AS mean, min(t.value) AS minimum, max(t.value) AS maximum"
    " FROM telemetry t JOIN metrics m ON m.id = t.metric_id"
    " WHERE t.robot_id = :robot AND t.time >= :start AND t.time < :end"
    " GROUP BY m.key, minute ORDER BY m.key, minute"
)
_EDGE_SEQ = text(
    "(SELECT seq FROM telemetry WHERE robot_id = :robot AND time >= :start AND time < :end"
    " ORDER BY time LIMIT 1)"
    " UNION ALL (SELECT seq FROM telemetry WHERE robot_id = :robot AND time >= :start"
    " AND time < :end ORDER BY time DESC LIMIT 1)"
    " UNION ALL (SELECT min(seq) FROM robot_events WHERE robot_id = :robot AND time >= :start"
    " AND time < :end)"
    " UNION ALL (SELECT max(seq) FROM robot_events WHERE robot_id = :robot AND time >= :start"
    " AND time < :end)"
)
_RECEIPTS = text(
    "SELECT count(*) AS batches, coalesce(sum(sample_count), 0) AS samples,"
    " min(received_at) AS first_received, max(received_at) AS last_received,"
    " min(device_time + clock_shift_s * interval '1 second') AS first_time,"
    " max(device_time + clock_shift_s * interval '1 second') AS last_time,"
    " coalesce(max(abs(clock_offset_s)), 0) AS max_offset_s,"
    " count(*) FILTER (WHERE clock_shift_s <> 0) AS corrected,"
    " coalesce(max(abs(clock_shift_s)), 0) AS max_shift_s"
    " FROM batch_receipts WHERE robot_id = :robot AND seq BETWEEN :first AND :last"
)
_SILENCES = text(
    "SELECT previous, at FROM ("
    "  SELECT at, lag(at) OVER (ORDER BY at) AS previous FROM ("
    "    SELECT device_time + clock_shift_s * interval '1 second' AS at FROM batch_receipts"
    "    WHERE robot_id = :robot AND seq BETWEEN :first AND :last) AS times"
    ") AS spans WHERE at - previous > CAST(:silence AS interval)"
    " ORDER BY previous LIMIT 200"
)
_GAPS = text(
    "SELECT g.first_seq, g.last_seq, g.detected_at, g.closed_at, g.resolution,"
    " (SELECT b.device_time + b.clock_shift_s * interval '1 second' FROM batch_receipts b"
    "   WHERE b.robot_id = g.robot_id AND b.seq = g.first_seq - 1) AS before_time,"
    " (SELECT b.device_time + b.clock_shift_s * interval '1 second' FROM batch_receipts b"
    "   WHERE b.robot_id = g.robot_id AND b.seq = g.last_seq + 1) AS after_time"
    " FROM sequence_gaps g"
    " WHERE g.robot_id = :robot AND g.first_seq <= :last + 1 AND g.last_seq >= :first - 1"
    " ORDER BY g.first_seq LIMIT 200"
)
_REFUSED = text(
    "SELECT reason, count(*) AS messages FROM dead_letters"
    " WHERE robot_id = :robot AND received_at >= :start AND received_at < :end"
    " GROUP BY reason ORDER BY reason"
)
_TAMPER_CASES = text(
    "SELECT id, reason, opened_at, evidence_count FROM review_cases"
    " WHERE robot_id = :robot AND category = 'tamper' AND status = 'open' ORDER BY id"
)
_ROBOT = text(
    "SELECT serial_number, robot_class, status, online, last_seen_at, boot_id FROM robots"
    " WHERE id = :robot"
)


def _rows(session: Session, query: Any, **parameters: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in session.execute(query, parameters)]


def robot(session: Session, robot_id: uuid.UUID) -> dict[str, Any]:
    return _rows(session, _ROBOT, robot=robot_id)[0]


def events(session: Session, robot_id: uuid.UUID, start: datetime, end: datetime) -> list[Any]:
    return _rows(session, _EVENTS, robot=robot_id, start=start, end=end, limit=MAX_EVENTS)


def hourly(session: Session, robot_id: uuid.UUID, start: datetime, end: datetime) -> list[Any]:
    return _rows(session, _HOURLY, robot=robot_id, start=start, end=end)


def close_up(
    session: Session, robot_id: uuid.UUID, start: datetime, end: datetime, step: timedelta
) -> list[Any]:
    return _rows(session, _CLOSE_UP, robot=robot_id, start=start, end=end, step=step)


def seq_range(
    session: Session, robot_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[int, int] | None:
    """The first and last seq of what the robot sent for the window (by sample and event
    time), or None if it sent nothing for it."""
    seqs = [
        r[0] for r in session.execute(_EDGE_SEQ, {"robot": robot_id, "start": start, "end": end})
    ]
    known = [s for s in seqs if s is not None]
    return (min(known), max(known)) if known else None


def receipts(session: Session, robot_id: uuid.UUID, first: int, last: int) -> dict[str, Any]:
    return _rows(session, _RECEIPTS, robot=robot_id, first=first, last=last)[0]


def silences(
    session: Session, robot_id: uuid.UUID, first: int, last: int, silence: timedelta
) -> list[Any]:
    return _rows(session, _SILENCES, robot=robot_id, first=first, last=last, silence=silence)


def gaps(session: Session, robot_id: uuid.UUID, first: int, last: int) -> list[Any]:
    return _rows(session, _GAPS, robot=robot_id, first=first, last=last)


def refused(session: Session, robot_id: uuid.UUID, start: datetime, end: datetime) -> list[Any]:
    return _rows(session, _REFUSED, robot=robot_id, start=start, end=end)


def tamper_cases(session: Session, robot_id: uuid.UUID) -> list[Any]:
    return _rows(session, _TAMPER_CASES, robot=robot_id)
