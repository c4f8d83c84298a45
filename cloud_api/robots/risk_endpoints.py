"""/v1/robots/{id}/risk-scores and /v1/robots/{id}/rescore: the risk domain, a router of its
own so that `robocover api --domains risk` can serve it apart from the fleet (docs/gateway.md).
Same paths, tags and behaviour as the fleet's routes. Thin: one ``Require``, one call of
history.py."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.conventions import Filter, IdempotencyDep, Listing, ListParams, ListQuery, Page
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import problem_responses
from cloud_api.robots import history
from cloud_api.robots.deps import Reader
from cloud_api.robots.schemas import RiskScoreOut
from cloud_api.sessions import SessionDep
from database.models import risk_scores
from risk_engine.settings import WorkerSettings

router = APIRouter(prefix="/v1/robots", tags=["robots"])

SCORES = Listing(
    resource="robot-risk-scores",
    sort_keys={"scored_at": risk_scores.c.scored_at, "id": risk_scores.c.id},
    tie_breaker=risk_scores.c.id,
    default_sort="-scored_at",
    filters={"trigger": Filter(risk_scores.c.trigger)},
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
