"""/v1/robots: the fleet, its standing and credentials, and each robot's history.

Thin: each route authorizes through one ``Require``, calls one function of fleet.py or
history.py, and answers. A robot of another tenant is a 404. Broker changes (accounts
disabled, enabled, configs published) are applied once the request's transaction has
committed: ``AfterCommitDep`` is entered before the session, so it exits after the session's
commit, and not at all when the request failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from loguru import logger

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.conventions import Filter, Listing, ListParams, ListQuery, Page, RateLimit
from cloud_api.conventions.etags import matches
from cloud_api.conventions.ratelimit import RateLimitStatus
from cloud_api.errors import ServiceUnavailableError, problem_responses
from cloud_api.robots import fleet, history
from cloud_api.robots.broker import MosquittoRobotBroker
from cloud_api.robots.repository import EVENT_ORDER
from cloud_api.robots.schemas import (
    RiskScoreOut,
    RobotEventOut,
    RobotOut,
    RobotRegistered,
    RobotRegistration,
    RotationRequested,
    SequenceGapOut,
    StandingChange,
    TelemetrySeries,
)
from cloud_api.robots.service import BrokerChanges
from cloud_api.sessions import SessionDep
from database.models import Robot, RobotClass, RobotStatus, SequenceGap, Tenant, risk_scores
from database.models import robot_events as events
from risk_engine.settings import WorkerSettings

router = APIRouter(prefix="/v1/robots", tags=["robots"])
ROTATION_TTL = timedelta(hours=72)


def _flag(text: str) -> bool:
    if text.lower() not in {"true", "false"}:
        raise ValueError("true or false")
    return text.lower() == "true"


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("give a time zone (Z or +hh:mm)")
    return moment


ROBOTS = Listing(
    resource="robots",
    sort_keys={"created_at": Robot.created_at, "serial_number": Robot.serial_number},
    tie_breaker=Robot.id,
    default_sort="created_at",
    filters={
        "status": Filter(Robot.status, lambda v: RobotStatus(v).value),
        "robot_class": Filter(Robot.robot_class, lambda v: RobotClass(v).value),
        "tenant": Filter(Tenant.slug),
        "online": Filter(Robot.online, _flag),
    },
)
SCORES = Listing(
    resource="robot-risk-scores",
    sort_keys={"scored_at": risk_scores.c.scored_at, "id": risk_scores.c.id},
    tie_breaker=risk_scores.c.id,
    default_sort="-scored_at",
    filters={"trigger": Filter(risk_scores.c.trigger)},
)
EVENTS = Listing(
    resource="robot-events",
    sort_keys={"time": events.c.time},
    tie_breaker=EVENT_ORDER,
    default_sort="-time",
    filters={
        "kind": Filter(events.c.kind),
        "min_severity": Filter(events.c.severity, int, "gte"),
        "since": Filter(events.c.time, _aware, "gte"),
        "until": Filter(events.c.time, _aware, "lte"),
    },
)
GAPS = Listing(
    resource="robot-gaps",
    sort_keys={"detected_at": SequenceGap.detected_at, "first_seq": SequenceGap.first_seq},
    tie_breaker=SequenceGap.first_seq,
    default_sort="-detected_at",
    filters={
        "open": Filter(SequenceGap.closed_at.is_(None), _flag),
        "since": Filter(SequenceGap.detected_at, _aware, "gte"),
        "until": Filter(SequenceGap.detected_at, _aware, "lte"),
    },
)


def get_robot_broker(request: Request) -> fleet.RobotBrokerPort:
    return MosquittoRobotBroker(request.app.state.settings)


def get_risk_settings(request: Request) -> WorkerSettings:
    """The risk engine's settings for on-demand rescores, from the API's own services."""
    cached = getattr(request.app.state, "risk_settings", None)
    if isinstance(cached, WorkerSettings):
        return cached
    api = request.app.state.settings
    settings = WorkerSettings(database_url=api.database_url, redis_url=api.redis_url)
    request.app.state.risk_settings = settings
    return settings


BrokerDep = Annotated[fleet.RobotBrokerPort, Depends(get_robot_broker)]


class AfterCommit:
    """Broker changes to apply once the transaction has committed."""

    def __init__(self, broker: fleet.RobotBrokerPort) -> None:
        self.broker = broker
        self.changes: list[BrokerChanges] = []

    def run(self) -> None:
        for changes in self.changes:
            try:
                self.broker.apply(changes)
            except Exception as exc:
                # The database is the truth: the ingest refuses what a suspended or revoked
                # robot sends even while the broker still lets it connect.
                logger.exception("the broker did not follow a committed change of standing")
                raise BrokerDidNotFollowError(
                    "the change is recorded, but the broker did not follow it yet "
                    f"({type(exc).__name__}); the ingest already acts on the new standing. "
                    "Repeat the request to apply it to the broker again",
                    headers={"Retry-After": "5"},
                ) from exc


class BrokerDidNotFollowError(ServiceUnavailableError):
    title = "Recorded; the broker did not follow"


def after_commit(broker: BrokerDep) -> Iterator[AfterCommit]:
    pending = AfterCommit(broker)
    yield pending
    pending.run()  # not reached when the request raised: nothing was committed


# Function scope, like the session, and entered before it: it exits after the session's commit
# and before the response is sent, so a 200 means the broker has followed.
AfterCommitDep = Annotated[AfterCommit, Depends(after_commit, scope="function")]
ReadLimit = Annotated[RateLimitStatus, Depends(RateLimit("read"))]
WriteLimit = Annotated[RateLimitStatus, Depends(RateLimit("write"))]
Reader = Annotated[Principal, Depends(Require(Action.ROBOTS_READ))]


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("")
def list_robots(
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(ROBOTS))],
) -> Page[RobotOut]:
    """Filters: status, robot_class, tenant (a slug), online; a tenant's own robots only for
    a policyholder or service account."""
    return fleet.list_page(session, principal, query)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 409))
def register_robot(
    *,
    body: RobotRegistration,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_REGISTER))],
    _: WriteLimit,
) -> RobotRegistered:
    """Register a pending robot and issue its one-time enrollment token (shown once)."""
    ttl = timedelta(seconds=request.app.state.settings.enrollment_token_ttl_s)
    registered = fleet.register(session, principal, body, ttl=ttl, now=_now())
    response.headers["Location"] = f"/v1/robots/{registered.robot.id}"
    response.headers["Cache-Control"] = "no-store"
    return registered


@router.get(
    "/{robot_id}",
    response_model=RobotOut,
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def read_robot(
    *,
    robot_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    if_none_match: Annotated[str | None, Header()] = None,
) -> RobotOut | Response:
    robot = fleet.read(session, principal, robot_id)
    if matches(if_none_match, robot.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": robot.etag})
    response.headers["ETag"] = robot.etag
    return robot


def _move(
    session: SessionDep,
    after: AfterCommit,
    *,
    principal: Principal,
    robot_id: uuid.UUID,
    move: fleet.Move,
    reason: str,
    response: Response,
) -> RobotOut:
    robot, changes = fleet.change_standing(
        session, principal, robot_id, move, reason=reason, now=_now()
    )
    after.changes.append(changes)
    response.headers["ETag"] = robot.etag
    return robot


@router.post("/{robot_id}/suspend", responses=problem_responses(409))
def suspend_robot(
    *,
    after: AfterCommitDep,
    robot_id: uuid.UUID,
    body: StandingChange,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_SUSPEND))],
    _: WriteLimit,
) -> RobotOut:
    """An active robot stops: its broker accounts are disabled, its connection ended."""
    return _move(
        session,
        after,
        principal=principal,
        robot_id=robot_id,
        move="suspend",
        reason=body.reason,
        response=response,
    )


@router.post("/{robot_id}/revoke", responses=problem_responses(409))
def revoke_robot(
    *,
    after: AfterCommitDep,
    robot_id: uuid.UUID,
    body: StandingChange,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_REVOKE))],
    _: WriteLimit,
) -> RobotOut:
    """For good: accounts disabled, a pending rotation cancelled, keys retired."""
    return _move(
        session,
        after,
        principal=principal,
        robot_id=robot_id,
        move="revoke",
        reason=body.reason,
        response=response,
    )


@router.post("/{robot_id}/reinstate", responses=problem_responses(409))
def reinstate_robot(
    *,
    after: AfterCommitDep,
    robot_id: uuid.UUID,
    body: StandingChange,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_REINSTATE))],
    _: WriteLimit,
) -> RobotOut:
    """A suspended robot is active again: its broker accounts are enabled."""
    return _move(
        session,
        after,
        principal=principal,
        robot_id=robot_id,
        move="reinstate",
        reason=body.reason,
        response=response,
    )


@router.post(
    "/{robot_id}/credential-rotations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 503),
)
def rotate_credentials(
    after: AfterCommitDep,
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_ROTATE_CREDENTIALS))],
    _: WriteLimit,
) -> RotationRequested:
    """Ask an active robot to rotate its signing key and broker account (protocol 1.2)."""
    request = fleet.rotate(session, principal, after.broker, robot_id, ttl=ROTATION_TTL, now=_now())
    after.changes.append(request.changes)
    return RotationRequested(
        rotation_id=request.rotation_id,
        robot_id=robot_id,
        new_mqtt_username=request.new_username,
        expires_at=request.expires_at,
    )


@router.post("/{robot_id}/rescore", responses=problem_responses(409, 503))
def rescore_robot(
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_RESCORE))],
    _: WriteLimit,
    risk: Annotated[WorkerSettings, Depends(get_risk_settings)],
) -> RiskScoreOut:
    """Rate the robot now; the score is recorded with the trigger on_demand."""
    return history.rescore(session, principal, robot_id, risk)


@router.get("/{robot_id}/risk-scores")
def list_risk_scores(
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(SCORES))],
) -> Page[RiskScoreOut]:
    """The robot's scores, newest first, each with its trigger; filter: trigger."""
    return history.scores_page(session, principal, robot_id, query)


@router.get("/{robot_id}/events")
def list_events(
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(EVENTS))],
) -> Page[RobotEventOut]:
    """Events in [since, until] (default: the last 7 days; at most 31 days), newest first;
    filters: kind, min_severity."""
    return history.events_page(session, principal, robot_id, query, _now())


@router.get("/{robot_id}/gaps")
def list_gaps(
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(GAPS))],
) -> Page[SequenceGapOut]:
    """Sequence gaps detected in [since, until] (default 7 days, at most 31); filter: open."""
    return history.gaps_page(session, principal, robot_id, query, _now())


@router.get("/{robot_id}/telemetry", responses=problem_responses(400))
def read_telemetry(
    *,
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    metric: Annotated[str, Query(min_length=1, max_length=70, description="A metric key")],
    since: Annotated[datetime | None, Query(description="Default: a day before until")] = None,
    until: Annotated[datetime | None, Query(description="Default: now")] = None,
) -> TelemetrySeries:
    """Hourly rollups of one metric over at most 7 days (168 hours)."""
    return history.telemetry(
        session, principal, robot_id, metric=metric, since=since, until=until, now=_now()
    )
