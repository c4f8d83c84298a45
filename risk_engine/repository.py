"""Queries of the risk engine. Callers own the transaction; frames key robots by their id as text.

Times cross this boundary as epoch seconds (Float64) so that the feature code is zone-free.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, text

from database.models.state import STATE_COLUMNS, TIMESTAMPS
from risk_engine.copy import Schema, read_frame
from risk_engine.features.state import MetricRoles

F64, S = pl.Float64, pl.String
ROBOT_SCHEMA: Schema = {
    "robot_id": S,
    "robot_class": S,
    "commissioned_at": F64,
    "tamper_flagged": F64,
}
ROLLUP_SCHEMA: Schema = {
    "robot_id": S,
    "metric_id": pl.Int32,
    "bucket": F64,
    "samples": F64,
    "total": F64,
    "minimum": F64,
    "maximum": F64,
}
EVENT_SCHEMA: Schema = {
    "robot_id": S,
    "time": F64,
    "received_at": F64,
    "kind": S,
    "severity": pl.Int16,
}


def _params(robot_ids: list[uuid.UUID] | None, **extra: Any) -> dict[str, Any]:
    return {"robot_ids": robot_ids, **extra}


def database_now(conn: Connection) -> datetime:
    moment: datetime = conn.execute(text("SELECT now()")).scalar_one()
    return moment


def lock_rescoring(conn: Connection) -> None:
    """Rescores fold new rows into shared state: one at a time (until the transaction ends)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('robocover.risk.rescore'))"))


def load_robots(conn: Connection, robot_ids: list[uuid.UUID] | None) -> pl.DataFrame:
    """Every robot that is not revoked: robot_id, robot_class, commissioned_at, tamper_flagged
    (1 while the robot has an open tamper review case: database/models/review.py)."""
    query = (
        "SELECT id::text, robot_class, extract(epoch FROM coalesce(enrolled_at, created_at)),"
        " EXISTS (SELECT 1 FROM review_cases c WHERE c.robot_id = robots.id"
        " AND c.category = 'tamper' AND c.status = 'open')::int::float8"
        " FROM robots WHERE status <> 'revoked' AND "
        " ({robot_ids}::uuid[] IS NULL OR id = ANY({robot_ids}::uuid[]))"
        " ORDER BY id"
    )
    return read_frame(conn, query, _params(robot_ids), ROBOT_SCHEMA)


def load_metric_roles(conn: Connection) -> MetricRoles:
    rows = conn.execute(text("SELECT id, name FROM metrics")).all()
    return MetricRoles.from_catalogue((int(r[0]), str(r[1])) for r in rows)


def load_states(
    conn: Connection, period_start: datetime, robot_ids: list[uuid.UUID] | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The period's state rows with their three watermarks (epoch s), plus, for every robot, the
    last maintenance and firmware change carried from its latest earlier period (maxima:
    idempotent)."""
    columns = ", ".join(f"extract(epoch FROM {c})" if c in TIMESTAMPS else c for c in STATE_COLUMNS)
    query = (
        f"SELECT robot_id::text, extract(epoch FROM rollups_through),"  # noqa: S608 (columns are constants)
        f" extract(epoch FROM events_through), extract(epoch FROM rollups_updated_through),"
        f" {columns} FROM risk_feature_state"
        " WHERE period_start = {period} AND "
        " ({robot_ids}::uuid[] IS NULL OR robot_id = ANY({robot_ids}::uuid[]))"
    )
    schema: Schema = {
        "robot_id": S,
        "rollups_through": F64,
        "events_through": F64,
        "rollups_updated_through": F64,
    }
    schema.update(dict.fromkeys(STATE_COLUMNS, F64))
    current = read_frame(conn, query, _params(robot_ids, period=period_start), schema)
    carried = read_frame(
        conn,
        "SELECT DISTINCT ON (robot_id) robot_id::text, extract(epoch FROM last_maintenance_at),"
        " extract(epoch FROM last_firmware_change_at) FROM risk_feature_state"
        " WHERE period_start < {period} AND "
        " ({robot_ids}::uuid[] IS NULL OR robot_id = ANY({robot_ids}::uuid[]))"
        " ORDER BY robot_id,"
        " period_start DESC",
        _params(robot_ids, period=period_start),
        {"robot_id": S, "last_maintenance_at": F64, "last_firmware_change_at": F64},
    )
    return current, carried


def load_rollups(
    conn: Connection,
    since: datetime,
    roles: MetricRoles,
    robot_ids: list[uuid.UUID] | None,
) -> pl.DataFrame:
    """Rollup rows of the metrics the features use, from the hour ``since`` on."""
    query = (
        "SELECT robot_id::text, metric_id, extract(epoch FROM bucket), samples, total, minimum,"
        " maximum FROM telemetry_hourly WHERE bucket >= {since}"
        " AND metric_id = ANY({metric_ids}::int[]) AND "
        " ({robot_ids}::uuid[] IS NULL OR robot_id = ANY({robot_ids}::uuid[]))"
    )
    params = _params(robot_ids, since=since, metric_ids=roles.wanted)
    return read_frame(conn, query, params, ROLLUP_SCHEMA)


def load_rollup_changes(
    conn: Connection,
    *,
    updated_after: datetime,
    updated_through: datetime,
    period_start: datetime,
    before: datetime,
    roles: MetricRoles,
    robot_ids: list[uuid.UUID] | None,
) -> pl.DataFrame:
    """Rollup rows of the period's hours before ``before`` inserted or changed (``updated_at``)
    in (updated_after, updated_through]: robot_id, bucket and updated_at (epoch s). Found by the
    index on updated_at: normally only the rows of late batches."""
    query = (
        "SELECT robot_id::text, extract(epoch FROM bucket), extract(epoch FROM updated_at)"
        " FROM telemetry_hourly WHERE updated_at > {after} AND updated_at <= {through}"
        " AND bucket >= {period} AND bucket < {before}"
        " AND metric_id = ANY({metric_ids}::int[]) AND "
        " ({robot_ids}::uuid[] IS NULL OR robot_id = ANY({robot_ids}::uuid[]))"
    )
    schema: Schema = {"robot_id": S, "bucket": F64, "updated_at": F64}
    params = _params(
        robot_ids,
        after=updated_after,
        through=updated_through,
        period=period_start,
        before=before,
        metric_ids=roles.wanted,
    )
    return read_frame(conn, query, params, schema)


def load_events(
    conn: Connection,
    received_after: datetime,
    received_through: datetime,
    period_start: datetime,
    robot_ids: list[uuid.UUID] | None,
) -> pl.DataFrame:
    """Events received in (received_after, received_through] that happened in the period."""
    query = (
        "SELECT robot_id::text, extract(epoch FROM time), extract(epoch FROM received_at), kind,"
        " severity FROM robot_events WHERE received_at > {after} AND received_at <= {through}"
        " AND time >= {period} AND "
        " ({robot_ids}::uuid[] IS NULL OR robot_id = ANY({robot_ids}::uuid[]))"
    )
    params = _params(robot_ids, after=received_after, through=received_through, period=period_start)
    return read_frame(conn, query, params, EVENT_SCHEMA)


def load_data_gaps(conn: Connection, robot_ids: list[uuid.UUID] | None) -> pl.DataFrame:
    """Unfilled gaps per robot: still open, or closed only by the robot's notice of dropping."""
    query = (
        "SELECT robot_id::text, count(*) FROM sequence_gaps"
        " WHERE (closed_at IS NULL OR resolution = 'dropped') AND "
        " ({robot_ids}::uuid[] IS NULL OR robot_id = ANY({robot_ids}::uuid[]))"
        " GROUP BY robot_id"
    )
    return read_frame(conn, query, _params(robot_ids), {"robot_id": S, "data_gap_count": F64})


def load_experience(
    conn: Connection, since: datetime, robot_ids: list[uuid.UUID] | None
) -> pl.DataFrame:
    """Claims and earned operating hours per robot over the experience window."""
    query = (
        "SELECT robot_id::text, sum(claim_count), sum(exposure_h) FROM claim_experience"
        " WHERE period_start >= {since} AND "
        " ({robot_ids}::uuid[] IS NULL OR robot_id = ANY({robot_ids}::uuid[]))"
        " GROUP BY robot_id"
    )
    schema: Schema = {"robot_id": S, "claim_count": F64, "experience_h": F64}
    return read_frame(conn, query, _params(robot_ids, since=since), schema)


def load_previous_scores(
    conn: Connection, period_start: datetime, robot_ids: list[uuid.UUID] | None
) -> pl.DataFrame:
    """Each robot's last score of an earlier period: the premium in force and its contributions
    (as JSON text)."""
    query = (
        "SELECT r.id::text, s.premium, s.contributions::text FROM robots r CROSS JOIN LATERAL"
        " (SELECT premium, contributions FROM risk_scores WHERE robot_id = r.id"
        " AND period_start < {period} ORDER BY period_start DESC, scored_at DESC LIMIT 1) s"
        " WHERE "
        " ({robot_ids}::uuid[] IS NULL OR r.id = ANY({robot_ids}::uuid[]))"
    )
    schema: Schema = {"robot_id": S, "previous_premium": F64, "previous_contributions": S}
    return read_frame(conn, query, _params(robot_ids, period=period_start), schema)


# --- the book of robot-months that `robocover risk fit --from-db` fits ----------------------


def load_period_robots(conn: Connection, start: datetime, end: datetime) -> pl.DataFrame:
    """Every robot registered before ``end``: robot_id, robot_class, commissioned_at and
    tamper_flagged (1 if a tamper review case of the robot was open during [start, end))."""
    query = (
        "SELECT id::text, robot_class, extract(epoch FROM coalesce(enrolled_at, created_at)),"
        " EXISTS (SELECT 1 FROM review_cases c WHERE c.robot_id = robots.id"
        " AND c.category = 'tamper' AND c.opened_at < {end}"
        " AND (c.resolved_at IS NULL OR c.resolved_at >= {start}))::int::float8"
        " FROM robots WHERE created_at < {end} ORDER BY id"
    )
    return read_frame(conn, query, {"start": start, "end": end}, ROBOT_SCHEMA)


def load_period_rollups(
    conn: Connection, start: datetime, end: datetime, roles: MetricRoles
) -> pl.DataFrame:
    """Rollup rows of the metrics the features use, of the hours in [start, end)."""
    query = (
        "SELECT robot_id::text, metric_id, extract(epoch FROM bucket), samples, total, minimum,"
        " maximum FROM telemetry_hourly WHERE bucket >= {start} AND bucket < {end}"
        " AND metric_id = ANY({metric_ids}::int[])"
    )
    params = {"start": start, "end": end, "metric_ids": roles.wanted}
    return read_frame(conn, query, params, ROLLUP_SCHEMA)


def load_period_events(conn: Connection, start: datetime, end: datetime) -> pl.DataFrame:
    """Events that happened in [start, end), whenever they arrived."""
    query = (
        "SELECT robot_id::text, extract(epoch FROM time), extract(epoch FROM received_at), kind,"
        " severity FROM robot_events WHERE time >= {start} AND time < {end}"
    )
    return read_frame(conn, query, {"start": start, "end": end}, EVENT_SCHEMA)


def load_period_gaps(conn: Connection, start: datetime, end: datetime) -> pl.DataFrame:
    """Gaps detected in [start, end) that the robot never filled (still open, or dropped)."""
    query = (
        "SELECT robot_id::text, count(*) FROM sequence_gaps"
        " WHERE detected_at >= {start} AND detected_at < {end}"
        " AND (closed_at IS NULL OR resolution = 'dropped') GROUP BY robot_id"
    )
    schema: Schema = {"robot_id": S, "data_gap_count": F64}
    return read_frame(conn, query, {"start": start, "end": end}, schema)


def load_monthly_claims(conn: Connection, since: datetime, until: datetime) -> pl.DataFrame:
    """The platform's claims experience per robot and calendar month of loss (every coverage):
    robot_id, period_start (epoch s), claim_count and incurred (paid plus case reserves)."""
    query = (
        "SELECT robot_id::text, extract(epoch FROM period_start), sum(claim_count)::float8,"
        " sum(incurred)::float8 FROM claim_experience"
        " WHERE period_start >= {since} AND period_start < {until} GROUP BY 1, 2"
    )
    schema: Schema = {"robot_id": S, "period_start": F64, "claim_count": F64, "incurred": F64}
    return read_frame(conn, query, {"since": since, "until": until}, schema)
