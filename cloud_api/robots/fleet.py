"""What the API does with robots on a principal's behalf: every read scoped to the tenant the
principal sees, every change audited.

A robot of a tenant the principal does not see is answered as if it did not exist (404, never
403 and never its data): ``visible`` is the one door. The standing rules are service.py's;
this module adds who asked (the audit trail and the robot's own actions, actor = the
principal's id) and hands back the broker changes the caller applies after the commit.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import Select
from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.permissions import is_allowed, tenant_scope
from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.broker_accounts import MqttCredentials
from cloud_api.conventions import ListQuery, Page, paginate_rows
from cloud_api.enrollment import service as enrollment
from cloud_api.errors import ConflictError, ForbiddenError, UnprocessableError
from cloud_api.reviews import service as reviews
from cloud_api.robots import repository, service
from cloud_api.robots.schemas import (
    ClockOut,
    GapSummary,
    OldestGap,
    RobotDetail,
    RobotOut,
    RobotRegistered,
    RobotRegistration,
)
from cloud_api.robots.service import BrokerChanges, RobotNotFoundError
from cloud_api.tenants import service as tenants
from database.models import Robot, TenantStatus

Move = Literal["suspend", "revoke", "reinstate"]
MOVES = {
    "suspend": (service.suspend, Action.ROBOTS_SUSPEND),
    "revoke": (service.revoke, Action.ROBOTS_REVOKE),
    "reinstate": (service.reinstate, Action.ROBOTS_REINSTATE),
}


class RobotBrokerPort(Protocol):
    """The broker: a rotation's account is made at once; other changes follow the commit."""

    def ensure_robot(
        self, tenant: str, robot_id: uuid.UUID, rotation: int | None = None
    ) -> MqttCredentials: ...

    def apply(self, changes: BrokerChanges) -> None: ...


class TenantSuspendedError(ConflictError):
    pass


def visible(session: Session, principal: Principal, robot_id: uuid.UUID) -> Robot:
    """The robot, if the principal sees its tenant; 404 otherwise (as for no robot at all)."""
    robot = repository.visible_robot(session, robot_id, tenant_scope(principal))
    if robot is None:
        raise RobotNotFoundError(f"no robot {robot_id}")
    return robot


REVIEW_FILTERS = frozenset({"review", "tamper"})


def describe(session: Session, principal: Principal, robot: Robot) -> RobotDetail:
    """The robot with its clock, open gaps, open review cases (for those who may read them)
    and the rotation under way."""
    return detail(session, principal, robot.id, None)


@functools.cache
def _detail_query(tenant_scoped: bool, with_cases: bool) -> Select[Any]:
    cases = reviews.open_cases_column(Robot.id) if with_cases else None
    return repository.detail_query(tenant_scoped, cases)


def detail(
    session: Session, principal: Principal, robot_id: uuid.UUID, tenant: str | None
) -> RobotDetail:
    """One query: the robot, if among ``tenant``'s (None: any), with what describe() adds."""
    query = _detail_query(tenant is not None, is_allowed(principal, Action.REVIEWS_READ))
    row = repository.detail_of(session, query, robot_id, tenant)
    if row is None:
        raise RobotNotFoundError(f"no robot {robot_id}")
    clock = row["clock"]
    return RobotDetail.model_validate(
        {
            **row,
            "clock": None
            if clock is None
            else ClockOut(
                boot_id=clock["boot_id"],
                skew_s=clock["max_offset_us"] / 1e6,
                estimated_at=clock["updated_at"],
            ),
            "sequence_gaps": GapSummary(
                open=row["open_gaps"],
                oldest_open=None
                if row["oldest_open_gap"] is None
                else OldestGap.model_validate(row["oldest_open_gap"]),
            ),
            "open_review_cases": row["open_cases"],
            "pending_rotation": row["rotation"],
        }
    )


def read(session: Session, principal: Principal, robot_id: uuid.UUID) -> RobotDetail:
    return detail(session, principal, robot_id, tenant_scope(principal))


def list_page(session: Session, principal: Principal, query: ListQuery) -> Page[RobotOut]:
    """A page of the robots the principal sees (a tenant's own, or every tenant's for staff).
    Filtering by review cases needs reviews:read (a tenant is not told of its own)."""
    if REVIEW_FILTERS & query.filters.keys() and not is_allowed(principal, Action.REVIEWS_READ):
        raise ForbiddenError("filtering robots by review cases needs the reviews:read permission")
    page = paginate_rows(session, repository.listed(tenant_scope(principal)), query)
    return page.map(RobotOut.model_validate)


def _tenant_to_register_in(session: Session, principal: Principal | None, named: str | None) -> str:
    scope = None if principal is None else tenant_scope(principal)
    if scope is not None and named not in (None, scope):
        raise tenants.TenantNotFoundError(f"no tenant {named!r}")
    slug = scope or named
    if slug is None:
        raise UnprocessableError("name the tenant the robot belongs to")
    tenant = tenants.get(session, slug)
    if tenant.status != TenantStatus.ACTIVE:
        raise TenantSuspendedError(f"tenant {slug} is {tenant.status}: it registers no robots")
    return slug


def register(
    session: Session,
    principal: Principal | None,
    body: RobotRegistration,
    *,
    ttl: timedelta,
    now: datetime,
) -> RobotRegistered:
    """A pending robot (or the pending one of this serial number) and a one-time enrollment
    token for it; a newer token voids the older ones. ``principal`` None: the command line
    (`robocover robots enroll-token`), which names the tenant."""
    slug = _tenant_to_register_in(session, principal, body.tenant)
    issued = enrollment.issue_token(
        session,
        tenant=slug,
        serial_number=body.serial_number,
        robot_class=body.robot_class,
        manufacturer=body.manufacturer,
        model=body.model,
        ttl=ttl,
        now=now,
    )
    robot = session.get_one(Robot, issued.robot_id)
    actor = audit.CLI_ROLE if principal is None else str(principal.id)
    repository.record_action(session, robot.id, actor=actor, action="registered", reason="")
    audit.record(
        session,
        principal,
        Action.ROBOTS_REGISTER,
        target_type="robot",
        target_id=robot.id,
        tenant_id=robot.tenant_id,
        detail={
            **audit.created(
                audit.snapshot(
                    robot, ("serial_number", "robot_class", "manufacturer", "model", "status")
                )
            ),
            "enrollment_expires_at": issued.expires_at.isoformat(),
        },
    )
    return RobotRegistered(
        robot=RobotOut.of(robot, slug),
        enrollment_token=issued.token,
        enrollment_token_expires_at=issued.expires_at,
    )


def change_standing(
    session: Session,
    principal: Principal,
    robot_id: uuid.UUID,
    move: Move,
    *,
    reason: str,
    now: datetime,
) -> tuple[RobotDetail, BrokerChanges]:
    """Suspend, revoke or reinstate (409 naming the allowed moves from a wrong standing)."""
    robot = visible(session, principal, robot_id)
    previous = robot.status
    rule, action = MOVES[move]
    changes = rule(session, robot_id=robot.id, actor=str(principal.id), reason=reason, now=now)
    audit.record(
        session,
        principal,
        action,
        target_type="robot",
        target_id=robot.id,
        tenant_id=robot.tenant_id,
        detail={"reason": reason, **audit.changes({"status": previous}, {"status": robot.status})},
    )
    session.flush()
    return describe(session, principal, robot), changes


def rotate(
    session: Session,
    principal: Principal,
    broker: RobotBrokerPort,
    robot_id: uuid.UUID,
    *,
    ttl: timedelta,
    now: datetime,
) -> service.RotationRequest:
    """Ask the robot to rotate its key and broker account (its new account is made now)."""
    robot = visible(session, principal, robot_id)
    request = service.request_rotation(
        session, broker, robot_id=robot.id, actor=str(principal.id), ttl=ttl, now=now
    )
    audit.record(
        session,
        principal,
        Action.ROBOTS_ROTATE_CREDENTIALS,
        target_type="robot",
        target_id=robot.id,
        tenant_id=robot.tenant_id,
        detail=audit.created(
            {"rotation_id": request.rotation_id, "expires_at": request.expires_at}
        ),
    )
    return request
