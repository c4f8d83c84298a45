"""Queries of the robots domain. Callers own the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from database.models import CredentialRotation, Robot, RobotAction, RobotKey, RotationState, Tenant


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
