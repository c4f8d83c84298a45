"""Queries on tenants. Callers own the transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from database.models import Tenant


def upsert_tenant(session: Session, *, slug: str, name: str) -> uuid.UUID:
    """The id of the tenant with this slug, registering it first if it is new."""
    statement = (
        insert(Tenant)
        .values(slug=slug, name=name)
        .on_conflict_do_update(index_elements=[Tenant.slug], set_={"name": name})
        .returning(Tenant.id)
    )
    return session.execute(statement).scalar_one()
