"""/v1/robots: the fleet, its standing and credentials; each robot's history and telemetry
are in history_endpoints.py and telemetry_endpoints.py, included in this router.

Thin: each route authorizes through one ``Require``, calls one function of fleet.py, and
answers. The creating POSTs take an ``Idempotency-Key``. A robot of another tenant is a
404. Broker changes (accounts disabled, enabled, configs published) are applied once the
request's transaction has committed: ``AfterCommitDep`` is entered before the session, so it
exits after the session's commit, and not at all when the request failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request, Response, status
from loguru import logger

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.conventions import Filter, IdempotencyDep, Listing, ListParams, ListQuery, Page
from cloud_api.conventions.etags import matches
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import ServiceUnavailableError, problem_responses
from cloud_api.reviews import service as reviews
from cloud_api.robots import fleet, history_endpoints, premium_endpoints, telemetry_endpoints
from cloud_api.robots.broker import MosquittoRobotBroker
from cloud_api.robots.deps import Reader, flag, now, router
from cloud_api.robots.schemas import (
    RobotDetail,
    RobotOut,
    RobotRegistered,
    RobotRegistration,
    RotationRequested,
    StandingChange,
)
from cloud_api.robots.service import BrokerChanges
from cloud_api.sessions import SessionDep
from database.models import CaseCategory, Robot, RobotClass, RobotStatus, Tenant

ROTATION_TTL = timedelta(hours=72)
ROUTES_ELSEWHERE = (history_endpoints, premium_endpoints, telemetry_endpoints)
"""Their routes are on ``router`` too, added when they were imported."""
__all__ = ["get_robot_broker", "router"]


def _review(text: str) -> bool:
    if text not in {"open", "none"}:
        raise ValueError("open or none")
    return text == "open"


ROBOTS = Listing(
    resource="robots",
    sort_keys={"created_at": Robot.created_at, "serial_number": Robot.serial_number},
    tie_breaker=Robot.id,
    default_sort="created_at",
    filters={
        "status": Filter(Robot.status, lambda v: RobotStatus(v).value),
        "robot_class": Filter(Robot.robot_class, lambda v: RobotClass(v).value),
        "tenant": Filter(Tenant.slug),
        "online": Filter(Robot.online, flag),
        "serial": Filter(Robot.serial_number, op="prefix"),
        "review": Filter(reviews.has_open_case(Robot.id), _review),
        "tamper": Filter(reviews.has_open_case(Robot.id, CaseCategory.TAMPER), flag),
    },
)


def get_robot_broker(request: Request) -> fleet.RobotBrokerPort:
    return MosquittoRobotBroker(request.app.state.settings)


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


@router.get("")
def list_robots(
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(ROBOTS))],
) -> Page[RobotOut]:
    """Filters: status, robot_class, tenant (a slug), online, serial (a prefix of the serial
    number), and, for those who may read review cases, review (open: an open review case of
    any category; none: no open case) and tamper (true: an open tamper case). A tenant's own
    robots only for a policyholder or service account."""
    return fleet.list_page(session, principal, query)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 409, 422))
def register_robot(
    *,
    body: RobotRegistration,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_REGISTER))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> RobotRegistered:
    """Register a pending robot and issue its one-time enrollment token (shown once: a replay
    under the same Idempotency-Key answers the registration with the token null)."""
    ttl = timedelta(seconds=request.app.state.settings.enrollment_token_ttl_s)
    response.headers["Cache-Control"] = "no-store"

    def write() -> RobotRegistered:
        registered = fleet.register(session, principal, body, ttl=ttl, now=now())
        response.headers["Location"] = f"/v1/robots/{registered.robot.id}"
        return registered

    return idempotency.run(write, status_code=status.HTTP_201_CREATED, redact=("enrollment_token",))


@router.get(
    "/{robot_id}",
    response_model=RobotDetail,
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
) -> RobotDetail | Response:
    """The robot, its clock skew, its open sequence gaps, its open review cases (null for a
    caller without reviews:read) and the credential rotation under way, if any."""
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
) -> RobotDetail:
    robot, changes = fleet.change_standing(
        session, principal, robot_id, move, reason=reason, now=now()
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
) -> RobotDetail:
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
) -> RobotDetail:
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
) -> RobotDetail:
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
    responses=problem_responses(409, 422, 503),
)
def rotate_credentials(
    after: AfterCommitDep,
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_ROTATE_CREDENTIALS))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> RotationRequested:
    """Ask an active robot to rotate its signing key and broker account (protocol 1.2)."""

    def write() -> RotationRequested:
        request = fleet.rotate(
            session, principal, after.broker, robot_id, ttl=ROTATION_TTL, now=now()
        )
        after.changes.append(request.changes)
        return RotationRequested(
            rotation_id=request.rotation_id,
            robot_id=robot_id,
            new_mqtt_username=request.new_username,
            expires_at=request.expires_at,
        )

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)
