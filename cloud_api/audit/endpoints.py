"""GET /v1/audit-events: the trail, for auditors and admins; newest first by default."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.audit import service
from cloud_api.audit.schemas import AuditEventOut
from cloud_api.conventions import Filter, Listing, ListParams, ListQuery, Page, RateLimit
from cloud_api.conventions.ratelimit import RateLimitStatus
from cloud_api.sessions import SessionDep
from database.models import AuditEvent, Tenant

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("give a time zone (Z or +hh:mm)")
    return moment


AUDIT_EVENTS = Listing(
    resource="audit-events",
    sort_keys={"occurred_at": AuditEvent.occurred_at, "id": AuditEvent.id},
    tie_breaker=AuditEvent.id,
    default_sort="-occurred_at",
    filters={
        "actor_id": Filter(AuditEvent.actor_id, uuid.UUID),
        "action": Filter(AuditEvent.action),
        "target_type": Filter(AuditEvent.target_type),
        "target_id": Filter(AuditEvent.target_id),
        "tenant_id": Filter(AuditEvent.tenant_id, uuid.UUID),
        "tenant": Filter(
            select(Tenant.slug).where(Tenant.id == AuditEvent.tenant_id).scalar_subquery()
        ),
        "since": Filter(AuditEvent.occurred_at, _aware, "gte"),
        "until": Filter(AuditEvent.occurred_at, _aware, "lte"),
    },
)


@router.get("")
def list_audit_events(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.AUDIT_READ))],
    _: Annotated[RateLimitStatus, Depends(RateLimit("read"))],
    query: Annotated[ListQuery, Depends(ListParams(AUDIT_EVENTS))],
) -> Page[AuditEventOut]:
    """Filters: actor_id, action, target_type, target_id, tenant_id or tenant (its slug), since
    and until (ISO 8601 with a time zone); sort by occurred_at or id ('-' for descending)."""
    return service.list_page(session, query).map(AuditEventOut.model_validate)
