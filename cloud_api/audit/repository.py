"""Queries of the audit trail (append-only: rows are only ever inserted and read)."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from database.models import AuditEvent


def add(session: Session, event: AuditEvent) -> AuditEvent:
    session.add(event)
    session.flush()
    return event


def events(tenant_id: uuid.UUID | None = None) -> Select[AuditEvent]:
    """The events, of one tenant when ``tenant_id`` is given (for the list's filters to narrow)."""
    statement = select(AuditEvent)
    if tenant_id is not None:
        statement = statement.where(AuditEvent.tenant_id == tenant_id)
    return statement


def for_target(session: Session, target_type: str, target_id: str) -> list[AuditEvent]:
    statement = (
        select(AuditEvent)
        .where(AuditEvent.target_type == target_type, AuditEvent.target_id == target_id)
        .order_by(AuditEvent.id)
    )
    return list(session.scalars(statement))
