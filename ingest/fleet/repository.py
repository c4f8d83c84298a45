"""Queries on tenants and robots. Callers own the transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ingest.models import Robot, RobotClass, Tenant


def upsert_tenant(session: Session, *, slug: str, name: str) -> uuid.UUID:
    """The id of the tenant with this slug, registering it first if it is new."""
    statement = (
        insert(Tenant)
        .values(slug=slug, name=name)
        .on_conflict_do_update(index_elements=[Tenant.slug], set_={"name": name})
        .returning(Tenant.id)
    )
    return session.execute(statement).scalar_one()


def upsert_robot(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    serial_number: str,
    robot_class: RobotClass,
    manufacturer: str,
    model: str,
) -> uuid.UUID:
    """The id of the tenant's robot with this serial number, registering it first if it is new."""
    statement = (
        insert(Robot)
        .values(
            tenant_id=tenant_id,
            serial_number=serial_number,
            robot_class=robot_class.value,
            manufacturer=manufacturer,
            model=model,
        )
        .on_conflict_do_update(
            index_elements=[Robot.tenant_id, Robot.serial_number],
            set_={"robot_class": robot_class.value, "manufacturer": manufacturer, "model": model},
        )
        .returning(Robot.id)
    )
    return session.execute(statement).scalar_one()


def count_robots(session: Session, tenant_id: uuid.UUID) -> int:
    return session.scalar(select(func.count()).where(Robot.tenant_id == tenant_id)) or 0
