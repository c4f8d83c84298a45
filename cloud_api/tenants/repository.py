"""Queries of the tenants domain. Callers own the transaction."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from database.models import Tenant


def tenants() -> Select[Tenant]:
    return select(Tenant)


def by_slug(session: Session, slug: str, *, for_update: bool = False) -> Tenant | None:
    statement = select(Tenant).where(Tenant.slug == slug)
    if for_update:
        statement = statement.with_for_update()
    return session.scalar(statement)


def add(session: Session, tenant: Tenant) -> bool:
    """Insert the tenant; False if its slug is taken (the savepoint keeps the transaction)."""
    try:
        with session.begin_nested():
            session.add(tenant)
            session.flush()
    except IntegrityError:
        return False
    return True
