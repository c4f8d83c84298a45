"""Recording the audit trail. Every change the API makes records one event, in the same
transaction as the change: both are committed, or neither.

``record`` takes the principal (or None for the command line), the action (an ``Action`` of the
permission table, or an identity event such as ``auth:sign_in``), the object and its tenant, and
``detail`` (the reason given, the fields changed). Secrets never go into ``detail``: a key
holding one of SECRET_WORDS is refused outright, so a careless caller fails its test instead of
leaking into the trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from asgi_correlation_id import correlation_id
from sqlalchemy.orm import Session

from cloud_api.access.roles import Principal
from cloud_api.audit import repository
from cloud_api.conventions import ListQuery, Page, paginate
from database.models import AuditEvent

CLI_ROLE: Final = "cli"
SECRET_WORDS: Final = ("password", "secret", "token", "api_key", "private")


def _check_detail(detail: Mapping[str, Any]) -> None:
    for key, value in detail.items():
        if any(word in key.lower() for word in SECRET_WORDS):
            raise ValueError(f"audit detail {key!r} looks like a secret: never recorded")
        if isinstance(value, Mapping):
            _check_detail(value)


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    *,
    target_type: str,
    target_id: uuid.UUID | str,
    tenant_id: uuid.UUID | None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the trail (in the caller's transaction). ``actor`` None: the CLI."""
    detail = dict(detail or {})
    _check_detail(detail)
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        actor_role=str(actor.role) if actor is not None else CLI_ROLE,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        tenant_id=tenant_id,
        request_id=correlation_id.get(),
        detail=detail,
    )
    return repository.add(session, event)


def trail_of(session: Session, target_type: str, target_id: uuid.UUID | str) -> list[AuditEvent]:
    """Every event about one object, oldest first."""
    return repository.for_target(session, target_type, str(target_id))


def list_page(session: Session, query: ListQuery) -> Page[AuditEvent]:
    """A page of the trail (staff who may read it see every tenant's events)."""
    return paginate(session, repository.events(), query)
