"""Severe events that call for an immediate rescore, found by a watermark over robot_events.

The ingest never imports the risk engine (data flows one way): this scan reads what it committed.
Severe: a collision, an emergency stop, a critical fault, or repeated protective stops (at least
``repeated_protective_stops`` within an hour).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Connection, text

WATERMARK = "severe_event_scan"


def robots_with_severe_events(
    conn: Connection, *, now: datetime, settle_seconds: float, repeated_protective_stops: int
) -> list[uuid.UUID]:
    """Robots with severe events received since the last scan; advances the watermark."""
    through = now - timedelta(seconds=settle_seconds)
    after = conn.execute(
        text("SELECT position FROM risk_watermarks WHERE name = :n FOR UPDATE"), {"n": WATERMARK}
    ).scalar()
    after = after or through - timedelta(hours=1)
    rows = conn.execute(
        text(
            "SELECT DISTINCT e.robot_id FROM robot_events e"
            " WHERE e.received_at > :after AND e.received_at <= :through AND ("
            " e.kind IN ('collision', 'emergency_stop')"
            " OR (e.kind = 'fault' AND e.severity >= 3)"
            " OR (e.kind = 'protective_stop' AND (SELECT count(*) FROM robot_events p"
            "   WHERE p.robot_id = e.robot_id AND p.kind = 'protective_stop'"
            "   AND p.time > e.time - interval '1 hour' AND p.time <= e.time) >= :stops))"
            " ORDER BY 1"
        ),
        {"after": after, "through": through, "stops": repeated_protective_stops},
    ).scalars()
    found = [uuid.UUID(str(r)) for r in rows]
    conn.execute(
        text(
            "INSERT INTO risk_watermarks (name, position) VALUES (:n, :p)"
            " ON CONFLICT (name) DO UPDATE SET position = greatest(risk_watermarks.position,"
            " EXCLUDED.position)"
        ),
        {"n": WATERMARK, "p": through},
    )
    return found
