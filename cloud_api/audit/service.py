"""Recording the audit trail. Every change the API makes records one event, in the same
transaction as the change: both are committed, or neither.

``record`` takes the principal (or None for the command line), the action (an ``Action`` of the
permission table, or an identity event such as ``auth:sign_in``), the object and its tenant, and
``detail`` (the reason given, the fields changed). Secrets never go into ``detail``: a key
holding one of SECRET_WORDS is refused outright, so a careless caller fails its test instead of
leaking into the trail.

What changed is told the same way everywhere, so an auditor reads one shape:

- a creation: ``{"after": {field: value, ...}}`` (``created``);
- a change (an update, a disable, a revocation): ``{"before": {...}, "after": {...}}`` of the
  fields whose value changed, and only those (``changes``);

values as JSON shows them (ids and times as strings). Take the ``before`` with ``snapshot``
before touching the object, the ``after`` once it is changed.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
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


def _plain(value: Any) -> Any:
    """A value as JSON (and an auditor) reads it."""
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(item) for item in value]
        return items if isinstance(value, (list, tuple)) else sorted(items)
    return value


def snapshot(obj: object, fields: Iterable[str]) -> dict[str, Any]:
    """The fields of ``obj`` (its attributes of these names), as the trail records them."""
    return {field: _plain(getattr(obj, field)) for field in fields}


def created(after: Mapping[str, Any]) -> dict[str, Any]:
    """The detail of a creation: the new object's fields."""
    return {"after": {field: _plain(value) for field, value in after.items()}}


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The detail of a change: ``before`` and ``after`` of the fields whose value differs (of
    the fields ``after`` names); empty when nothing changed."""
    changed = [f for f in after if _plain(before.get(f)) != _plain(after[f])]
    if not changed:
        return {}
    return {
        "before": {f: _plain(before.get(f)) for f in changed},
        "after": {f: _plain(after[f]) for f in changed},
    }


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
