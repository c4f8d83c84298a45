"""Queries of the enrollment domain. Callers own the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from database.models import EnrollmentToken, Robot, RobotClass, RobotKey, RobotStatus, Tenant
from ingest.fleet.repository import upsert_tenant


def tenant_id_for(session: Session, slug: str) -> uuid.UUID:
    """The tenant with this slug, registered (named after its slug) if it is new."""
    existing = session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    return existing if existing is not None else upsert_tenant(session, slug=slug, name=slug)


def tenant_slug(session: Session, tenant_id: uuid.UUID) -> str:
    return session.scalars(select(Tenant.slug).where(Tenant.id == tenant_id)).one()


def robot_by_serial(session: Session, tenant_id: uuid.UUID, serial_number: str) -> Robot | None:
    return session.scalar(
        select(Robot).where(Robot.tenant_id == tenant_id, Robot.serial_number == serial_number)
    )


def add_pending_robot(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    serial_number: str,
    robot_class: RobotClass,
    manufacturer: str,
    model: str,
) -> Robot:
    robot = Robot(
        tenant_id=tenant_id,
        serial_number=serial_number,
        robot_class=robot_class.value,
        manufacturer=manufacturer,
        model=model,
        status=RobotStatus.PENDING.value,
    )
    session.add(robot)
    session.flush()
    return robot


def add_token(
    session: Session, *, robot_id: uuid.UUID, secret_hash: bytes, expires_at: datetime
) -> EnrollmentToken:
    token = EnrollmentToken(robot_id=robot_id, secret_hash=secret_hash, expires_at=expires_at)
    session.add(token)
    session.flush()
    return token


def void_tokens(session: Session, robot_id: uuid.UUID, now: datetime) -> None:
    """The robot's unconsumed tokens stop working."""
    session.execute(
        update(EnrollmentToken)
        .where(
            EnrollmentToken.robot_id == robot_id,
            EnrollmentToken.consumed_at.is_(None),
            EnrollmentToken.voided_at.is_(None),
        )
        .values(voided_at=now)
    )


def add_first_key(session: Session, robot_id: uuid.UUID, public_key: bytes) -> None:
    """The robot's first signing key signs its chain from seq 0."""
    session.add(RobotKey(robot_id=robot_id, first_seq=0, public_key=public_key))


def token_for_update(session: Session, token_id: uuid.UUID) -> EnrollmentToken | None:
    """The token row, locked: two robots racing with one token cannot both consume it."""
    return session.scalar(
        select(EnrollmentToken).where(EnrollmentToken.id == token_id).with_for_update()
    )


def robot_for_update(session: Session, robot_id: uuid.UUID) -> Robot:
    return session.scalars(select(Robot).where(Robot.id == robot_id).with_for_update()).one()


def key_in_use(session: Session, public_key: bytes) -> bool:
    return (
        session.scalar(select(Robot.id).where(Robot.signing_public_key == public_key)) is not None
    )
