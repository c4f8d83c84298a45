"""A robot's history as the API reads it (risk scores, events, sequence gaps), and the
on-demand rescore that adds to it. Reads are scoped by ``fleet.visible``. (Telemetry:
telemetry.py.)

Time ranges are bounded, so that one request never reads an unbounded part of a hypertable:
events and gaps up to MAX_EVENTS_SPAN per request (pages within it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.conventions import InvalidQueryError, ListQuery, Page, paginate, paginate_rows
from cloud_api.errors import ConflictError, ServiceUnavailableError
from cloud_api.robots import premium_page, repository
from cloud_api.robots.fleet import visible
from cloud_api.robots.schemas import (
    RiskScoreOut,
    RobotEventOut,
    SequenceGapOut,
)
from database.models import RobotStatus
from risk_engine.plans.repository import PlanError
from risk_engine.rescore import rescore as rescore_robots
from risk_engine.settings import WorkerSettings

MAX_EVENTS_SPAN = timedelta(days=31)
DEFAULT_EVENTS_SPAN = timedelta(days=7)
DEFAULT_PREMIUM_SPAN = timedelta(days=31)
MAX_PREMIUM_SPAN = timedelta(days=366)
PREMIUM_PAGE_ROBOTS = 50
PREMIUM_PAGE_SCORES = 200
"""The premium page shows at most this many robots, and the latest scores of each."""
RESCORE_LOCK_WAIT = timedelta(seconds=10)
"""How long an on-demand rescore waits for one already running (rescores take turns)."""
LOCK_NOT_AVAILABLE = "55P03"


class RangeTooWideError(InvalidQueryError):
    pass


class NotRatedError(ConflictError):
    pass


class RescoreBusyError(ServiceUnavailableError):
    """Another rescore (the hourly one of the fleet) holds the lock: try again shortly."""

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": "30"})


def time_range(
    since: datetime | None,
    until: datetime | None,
    *,
    now: datetime,
    default: timedelta,
    maximum: timedelta,
) -> tuple[datetime, datetime]:
    """[since, until]: until defaults to now, since to ``default`` before until; at most
    ``maximum`` wide (400 otherwise), since not after until."""
    if any(moment is not None and moment.tzinfo is None for moment in (since, until)):
        raise InvalidQueryError("give since and until with a time zone (Z or +hh:mm)")
    until = until or now
    since = since or until - default
    if since > until:
        raise InvalidQueryError(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    if until - since > maximum:
        raise RangeTooWideError(
            f"the time range is {until - since}; ask for at most {_span(maximum)} at a time"
        )
    return since, until


def _span(width: timedelta) -> str:
    """A bound as people say it: "31 days", "6 hours"."""
    if width % timedelta(days=1) == timedelta(0):
        return f"{width.days} days"
    if width % timedelta(hours=1) == timedelta(0):
        return f"{width // timedelta(hours=1)} hours"
    return str(width)


def _range_of(filters: Mapping[str, object], now: datetime) -> tuple[datetime, datetime]:
    since, until = filters.get("since"), filters.get("until")
    assert since is None or isinstance(since, datetime)  # noqa: S101 - the listing parses them
    assert until is None or isinstance(until, datetime)  # noqa: S101
    return time_range(since, until, now=now, default=DEFAULT_EVENTS_SPAN, maximum=MAX_EVENTS_SPAN)


def scores_page(
    session: Session, principal: Principal, robot_id: uuid.UUID, query: ListQuery
) -> Page[RiskScoreOut]:
    robot = visible(session, principal, robot_id)
    page = paginate_rows(session, repository.scores_of(robot.id), query)
    return page.map(RiskScoreOut.model_validate)


def events_page(
    session: Session, principal: Principal, robot_id: uuid.UUID, query: ListQuery, now: datetime
) -> Page[RobotEventOut]:
    robot = visible(session, principal, robot_id)
    since, until = _range_of(query.filters, now)
    page = paginate_rows(session, repository.events_of(robot.id, since, until), query)
    return page.map(RobotEventOut.model_validate)


def gaps_page(
    session: Session, principal: Principal, robot_id: uuid.UUID, query: ListQuery, now: datetime
) -> Page[SequenceGapOut]:
    robot = visible(session, principal, robot_id)
    since, until = _range_of(query.filters, now)
    page = paginate(session, repository.gaps_of(robot.id, since, until), query)
    return page.map(SequenceGapOut.model_validate)


def rescore(
    session: Session,
    principal: Principal,
    robot_id: uuid.UUID,
    settings: WorkerSettings,
    *,
    lock_wait: timedelta = RESCORE_LOCK_WAIT,
) -> RiskScoreOut:
    """Rate the robot now, in this transaction, recorded with the trigger ``on_demand``.

    Rescores take turns (an advisory lock): behind a long one, the request gives up after
    ``lock_wait`` with a 503 and Retry-After rather than hold a connection indefinitely."""
    robot = visible(session, principal, robot_id)
    if robot.status == RobotStatus.REVOKED:
        raise NotRatedError(f"robot {robot_id} is revoked: it is no longer rated")
    previous = repository.set_lock_timeout(session, f"{int(lock_wait.total_seconds() * 1000)}ms")
    try:
        result = rescore_robots(
            session.connection(), settings, trigger="on_demand", robot_ids=[robot.id]
        )
    except PlanError as exc:
        raise NotRatedError(str(exc)) from exc
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise RescoreBusyError("another rescore is running; try again shortly") from exc
        raise
    repository.set_lock_timeout(session, previous)
    score = repository.latest_score(session, robot.id)
    if score is None:  # pragma: no cover - a robot not revoked is always scored
        raise NotRatedError(f"robot {robot_id} was not scored")
    out = RiskScoreOut.model_validate(score)
    repository.record_action(
        session,
        robot.id,
        actor=str(principal.id),
        action="rescored",
        reason="on_demand",
        detail={"score_id": out.id, "premium": out.premium},
    )
    audit.record(
        session,
        principal,
        Action.ROBOTS_RESCORE,
        target_type="robot",
        target_id=robot.id,
        tenant_id=robot.tenant_id,
        detail=audit.created(
            {"score_id": out.id, "plan_version": result.plan_version, "premium": out.premium}
        ),
    )
    return out


def premiums_page(
    session: Session,
    principal: Principal,
    *,
    tenant: str | None,
    robot_class: str | None,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> str:
    """Premium over time per robot with the reasons, as an HTML page: the robots the principal
    sees (of ``tenant`` and ``robot_class`` when given; another tenant's: none)."""
    since, until = time_range(
        since, until, now=now, default=DEFAULT_PREMIUM_SPAN, maximum=MAX_PREMIUM_SPAN
    )
    statement = repository.fleet_for_premiums(
        tenant_scope(principal), tenant, robot_class, PREMIUM_PAGE_ROBOTS + 1
    )
    robots = [dict(r) for r in session.execute(statement).mappings()]
    more = len(robots) > PREMIUM_PAGE_ROBOTS
    robots = robots[:PREMIUM_PAGE_ROBOTS]
    scores: dict[uuid.UUID, list[dict[str, object]]] = {r["id"]: [] for r in robots}
    rows = repository.premium_history(session, list(scores), since, until, PREMIUM_PAGE_SCORES)
    for row in rows:
        scores[row["robot_id"]].append(dict(row))
    sections = [premium_page.robot_premiums(r, scores[r["id"]]) for r in robots]
    return premium_page.html(sections, since=since, until=until, tenant=tenant, more=more)
