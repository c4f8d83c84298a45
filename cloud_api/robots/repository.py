"""Queries of the robots domain. Callers own the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    RowMapping,
    ScalarSelect,
    Select,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import Numeric

from database.models import (
    CredentialRotation,
    Metric,
    Robot,
    RobotAction,
    RobotClock,
    RobotKey,
    RotationState,
    SequenceGap,
    Tenant,
    risk_scores,
    robot_events,
    telemetry,
    telemetry_hourly,
)

RobotsSelect = TypeVar("RobotsSelect", bound=Select[Any])


def readable(statement: RobotsSelect, tenant: str | BindParameter[str] | None) -> RobotsSelect:
    """``statement`` (over robots) joined with the robots' tenants and kept to ``tenant``'s (a
    slug, or a bound parameter of one), or every tenant's when None: the one place the robots
    a principal may see are decided (``permissions.tenant_scope`` gives the tenant)."""
    joined = statement.join_from(Robot, Tenant, Tenant.id == Robot.tenant_id)
    return joined if tenant is None else joined.where(Tenant.slug == tenant)


LISTED_COLUMNS = (
    "id",
    "serial_number",
    "robot_class",
    "manufacturer",
    "model",
    "status",
    "status_reason",
    "status_changed_at",
    "online",
    "last_seen_at",
    "enrolled_at",
    "firmware_version",
    "software_version",
    "created_at",
)
"""What a listing shows of each robot (no key, no broker account)."""


def listed(tenant: str | None) -> Select[Any]:
    """The robots ``readable`` by ``tenant`` as rows of the listed columns and ``tenant`` (the
    slug): a page of robots without loading them as objects or asking for their slugs again."""
    columns = [Robot.__table__.c[name] for name in LISTED_COLUMNS]
    return readable(select(*columns, Tenant.slug.label("tenant")), tenant)


_ROBOT_BY_ID = readable(select(Robot).where(Robot.id == bindparam("robot_id")), None)
_TENANT_ROBOT_BY_ID = readable(
    select(Robot).where(Robot.id == bindparam("robot_id")), bindparam("tenant")
)


def visible_robot(session: Session, robot_id: uuid.UUID, tenant: str | None) -> Robot | None:
    """The robot if ``readable`` by ``tenant`` (statements built once: every robot route asks)."""
    if tenant is None:
        return session.scalar(_ROBOT_BY_ID, {"robot_id": robot_id})
    return session.scalar(_TENANT_ROBOT_BY_ID, {"robot_id": robot_id, "tenant": tenant})


def actions_of(session: Session, robot_id: uuid.UUID) -> list[RobotAction]:
    return list(
        session.scalars(
            select(RobotAction).where(RobotAction.robot_id == robot_id).order_by(RobotAction.id)
        )
    )


def scores_of(robot_id: uuid.UUID) -> Select[Any]:
    return select(risk_scores).where(risk_scores.c.robot_id == robot_id)


EVENT_ORDER = cast(robot_events.c.seq, Numeric) * 65536 + robot_events.c.position
"""A unique key of a robot's events (seq, then the place in its batch), for keyset pages."""


def events_of(robot_id: uuid.UUID, since: datetime, until: datetime) -> Select[Any]:
    e = robot_events.c
    return select(
        e.time, e.seq, e.position, e.kind, e.code, e.severity, e.detail, e.received_at
    ).where(e.robot_id == robot_id, e.time >= since, e.time <= until)


def gaps_of(robot_id: uuid.UUID, since: datetime, until: datetime) -> Select[SequenceGap]:
    return select(SequenceGap).where(
        SequenceGap.robot_id == robot_id,
        SequenceGap.detected_at >= since,
        SequenceGap.detected_at <= until,
    )


def telemetry_points(
    robot_id: uuid.UUID,
    metric: str | None,
    resolution: str,
    since: datetime,
    until: datetime,
) -> Select[Any]:
    """The robot's telemetry in [since, until) as points (time, metric, unit, samples, mean,
    minimum, maximum), by time then metric: raw samples (a point each), one-minute buckets
    of the raw samples (TimescaleDB's time_bucket), or the hourly rollups the ingest keeps.
    ``metric`` None: every metric. The caller bounds the range and the rows."""
    if resolution == "1h":
        h = telemetry_hourly.c
        points: Select[Any] = select(
            h.bucket.label("time"),
            Metric.key.label("metric"),
            Metric.unit,
            h.samples,
            (h.total / func.nullif(h.samples, 0)).label("mean"),
            h.minimum,
            h.maximum,
        ).join(Metric, Metric.id == h.metric_id)
        points = points.where(h.robot_id == robot_id, h.bucket >= since, h.bucket < until)
        time_column: Any = h.bucket
    else:
        t = telemetry.c
        where = (t.robot_id == robot_id, t.time >= since, t.time < until)
        if resolution == "raw":
            time_column = t.time
            measures: tuple[Any, ...] = (
                literal(1).label("samples"),
                t.value.label("mean"),
                t.value.label("minimum"),
                t.value.label("maximum"),
            )
        else:
            time_column = func.time_bucket(text("interval '1 minute'"), t.time)
            measures = (
                func.count().label("samples"),
                func.avg(t.value).label("mean"),
                func.min(t.value).label("minimum"),
                func.max(t.value).label("maximum"),
            )
        columns = (time_column.label("time"), Metric.key.label("metric"), Metric.unit)
        points = select(*columns, *measures).join(Metric, Metric.id == t.metric_id).where(*where)
        if resolution != "raw":
            points = points.group_by(time_column, Metric.key, Metric.unit)
    if metric is not None:
        points = points.where(Metric.key == metric)
    return points.order_by(time_column, Metric.key)


def detail_query(tenant_scoped: bool, open_cases: ScalarSelect[Any] | None) -> Select[Any]:
    """The statement of ``detail_of``, built once by the caller (building it costs more than
    running it) with the parameters ``robot_id`` and, when ``tenant_scoped``, ``tenant``.

    A row is the robot (its columns) with, in the same round trip: ``tenant`` (its slug); ``clock``,
    the estimate of the clock during its current boot, or else its latest; ``open_gaps``,
    how many of its sequence gaps are open (the partial index), and ``oldest_open_gap``;
    ``rotation``, its credential rotation under way (read without a lock:
    ``pending_rotation`` locks it); ``open_cases``, the column given (another domain's,
    correlated with ``robots.id``) or null. Nested records are JSON objects. None if the
    robot is not ``readable`` by the tenant."""
    r = Robot.__table__.c
    c, g, cr = RobotClock, SequenceGap, CredentialRotation
    clock = (
        select(
            func.json_build_object(
                "boot_id", c.boot_id, "max_offset_us", c.max_offset_us, "updated_at", c.updated_at
            )
        )
        .where(c.robot_id == r.id)
        .order_by((c.boot_id == r.boot_id).desc().nulls_last(), c.updated_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    open_gap = (g.robot_id == r.id, g.closed_at.is_(None))
    gap_count = select(func.count()).select_from(g).where(*open_gap).scalar_subquery()
    oldest = (
        select(
            func.json_build_object(
                "first_seq", g.first_seq, "last_seq", g.last_seq, "detected_at", g.detected_at
            )
        )
        .where(*open_gap)
        .order_by(g.detected_at, g.first_seq)
        .limit(1)
        .scalar_subquery()
    )
    rotation = (
        select(
            func.json_build_object(
                "id",
                cr.id,
                "state",
                cr.state,
                "requested_at",
                cr.requested_at,
                "expires_at",
                cr.expires_at,
                "new_mqtt_username",
                cr.new_mqtt_username,
            )
        )
        .where(
            cr.robot_id == r.id, cr.state.in_([RotationState.REQUESTED, RotationState.CONFIRMED])
        )
        .limit(1)
        .scalar_subquery()
    )
    statement = select(
        *Robot.__table__.c,
        Tenant.slug.label("tenant"),
        clock.label("clock"),
        gap_count.label("open_gaps"),
        oldest.label("oldest_open_gap"),
        rotation.label("rotation"),
        (open_cases if open_cases is not None else null()).label("open_cases"),
    ).where(r.id == bindparam("robot_id"))
    return readable(statement, bindparam("tenant") if tenant_scoped else None)


def detail_of(
    session: Session, query: Select[Any], robot_id: uuid.UUID, tenant: str | None
) -> RowMapping | None:
    """A ``detail_query`` run for one robot (``tenant`` None: a query not tenant-scoped)."""
    parameters: dict[str, object] = {"robot_id": robot_id}
    if tenant is not None:
        parameters["tenant"] = tenant
    return session.execute(query, parameters).mappings().first()


def robot_for_update(session: Session, robot_id: uuid.UUID) -> Robot | None:
    """The robot, locked: the ingest judges its messages under the same lock."""
    return session.scalar(select(Robot).where(Robot.id == robot_id).with_for_update())


def tenant_slug(session: Session, tenant_id: uuid.UUID) -> str:
    return session.scalars(select(Tenant.slug).where(Tenant.id == tenant_id)).one()


def record_action(
    session: Session,
    robot_id: uuid.UUID,
    *,
    actor: str,
    action: str,
    reason: str,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        RobotAction(
            robot_id=robot_id, actor=actor, action=action, reason=reason, detail=detail or {}
        )
    )


def pending_rotation(session: Session, robot_id: uuid.UUID) -> CredentialRotation | None:
    """The robot's rotation not yet completed or cancelled, locked."""
    return session.scalar(
        select(CredentialRotation)
        .where(
            CredentialRotation.robot_id == robot_id,
            CredentialRotation.state.in_([RotationState.REQUESTED, RotationState.CONFIRMED]),
        )
        .with_for_update()
    )


def add_rotation(session: Session, rotation: CredentialRotation) -> CredentialRotation:
    session.add(rotation)
    session.flush()
    return rotation


def confirmed_rotations(session: Session) -> list[CredentialRotation]:
    """Rotations their robot answered, not yet settled."""
    return list(
        session.scalars(
            select(CredentialRotation)
            .where(CredentialRotation.state == RotationState.CONFIRMED)
            .order_by(CredentialRotation.id)
            .with_for_update(skip_locked=True)
        )
    )


def retire_keys(session: Session, robot_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(RobotKey)
        .where(RobotKey.robot_id == robot_id, RobotKey.retired_at.is_(None))
        .values(retired_at=now)
    )


def latest_score(session: Session, robot_id: uuid.UUID) -> dict[str, Any] | None:
    """The robot's last score row (the risk_scores columns by name), or None."""
    row = session.execute(scores_of(robot_id).order_by(risk_scores.c.id.desc()).limit(1)).first()
    return None if row is None else dict(row._mapping)


def set_lock_timeout(session: Session, value: str) -> str:
    """Bound how long the rest of this transaction waits for a lock (``"10000ms"``; ``"0"``
    waits for ever); returns the setting it replaces, to put back."""
    previous = session.scalars(select(func.current_setting("lock_timeout"))).one()
    session.execute(select(func.set_config("lock_timeout", value, True)))
    return str(previous)


def fleet_for_premiums(
    scope: str | None, tenant: str | None, robot_class: str | None, limit: int
) -> Select[Any]:
    """Robots ``readable`` in ``scope`` (of ``tenant`` and ``robot_class`` when given), by
    serial number, at most ``limit``: the robots of the premium page."""
    columns: list[Any] = [
        Robot.id,
        Robot.serial_number,
        Robot.robot_class,
        Robot.model,
        Tenant.slug.label("tenant"),
    ]
    statement = readable(select(*columns), scope)
    if tenant is not None:
        statement = statement.where(Tenant.slug == tenant)
    if robot_class is not None:
        statement = statement.where(Robot.robot_class == robot_class)
    return statement.order_by(Robot.serial_number, Robot.id).limit(limit)


def premium_history(
    session: Session, robot_ids: list[uuid.UUID], since: datetime, until: datetime, per_robot: int
) -> list[RowMapping]:
    """The robots' scores in [since, until], the latest ``per_robot`` of each, oldest first."""
    s = risk_scores.c
    latest_first = (s.scored_at.desc(), s.id.desc())
    ranked = (
        select(
            s.id,
            s.robot_id,
            s.scored_at,
            s.trigger,
            s.premium,
            s.technical_premium,
            s.currency,
            s.reasons,
            func.row_number().over(partition_by=s.robot_id, order_by=latest_first).label("rank"),
        )
        .where(s.robot_id.in_(robot_ids), s.scored_at >= since, s.scored_at <= until)
        .subquery()
    )
    r = ranked.c
    statement = (
        select(
            r.robot_id,
            r.scored_at,
            r.trigger,
            r.premium,
            r.technical_premium,
            r.currency,
            r.reasons,
        )
        .where(r.rank <= per_robot)
        .order_by(r.robot_id, r.scored_at, r.id)
    )
    return list(session.execute(statement).mappings())
