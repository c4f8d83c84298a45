"""/v1/robots/{id}: a robot's history (risk scores, events, sequence gaps) and the on-demand
rescore that adds to it. Thin, as endpoints.py: one ``Require``, one call of history.py."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.conventions import Filter, IdempotencyDep, Listing, ListParams, ListQuery, Page
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import problem_responses
from cloud_api.robots import history
from cloud_api.robots.deps import Reader, aware, flag, now, router
from cloud_api.robots.repository import EVENT_ORDER
from cloud_api.robots.schemas import RiskScoreOut, RobotEventOut, SequenceGapOut
from cloud_api.sessions import SessionDep
from database.models import SequenceGap, risk_scores
from database.models import robot_events as events
from risk_engine.settings import WorkerSettings

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
        "since": Filter(events.c.time, aware, "gte"),
        "until": Filter(events.c.time, aware, "lte"),
    },
)
GAPS = Listing(
    resource="robot-gaps",
    sort_keys={"detected_at": SequenceGap.detected_at, "first_seq": SequenceGap.first_seq},
    tie_breaker=SequenceGap.first_seq,
    default_sort="-detected_at",
    filters={
        "open": Filter(SequenceGap.closed_at.is_(None), flag),
        "since": Filter(SequenceGap.detected_at, aware, "gte"),
        "until": Filter(SequenceGap.detected_at, aware, "lte"),
    },
)


def get_risk_settings(request: Request) -> WorkerSettings:
    """The risk engine's settings for on-demand rescores, from the API's own services."""
    cached = getattr(request.app.state, "risk_settings", None)
    if isinstance(cached, WorkerSettings):
        return cached
    api = request.app.state.settings
    settings = WorkerSettings(database_url=api.database_url, redis_url=api.redis_url)
    request.app.state.risk_settings = settings
    return settings


@router.post("/{robot_id}/rescore", responses=problem_responses(409, 422, 503))
def rescore_robot(
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_RESCORE))],
    _: WriteLimit,
    risk: Annotated[WorkerSettings, Depends(get_risk_settings)],
    idempotency: IdempotencyDep,
) -> RiskScoreOut:
    """Rate the robot now; the score is recorded with the trigger on_demand."""
    return idempotency.run(lambda: history.rescore(session, principal, robot_id, risk))


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
    return history.events_page(session, principal, robot_id, query, now())


@router.get("/{robot_id}/gaps")
def list_gaps(
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(GAPS))],
) -> Page[SequenceGapOut]:
    """Sequence gaps detected in [since, until] (default 7 days, at most 31); filter: open."""
    return history.gaps_page(session, principal, robot_id, query, now())
