"""Tenants: created and changed by admins, read by staff who may (the permission table).

Insurer staff belong to no tenant; a tenant's policyholders and service accounts reach only
their own tenant's robots and policies (NOTES: one meaning of tenant everywhere). Every change
records an audit event in the same transaction.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.conventions import ListQuery, Page, paginate
from cloud_api.conventions.etags import require_match
from cloud_api.errors import ConflictError, NotFoundError
from cloud_api.tenants import repository
from cloud_api.tenants.schemas import TenantCreate, TenantUpdate, etag_of
from database.models import Tenant, TenantStatus

TENANT_FIELDS: Final = ("slug", "name", "status")  # as the audit trail records a tenant


class TenantNotFoundError(NotFoundError):
    pass


class SlugTakenError(ConflictError):
    pass


def list_page(session: Session, query: ListQuery) -> Page[Tenant]:
    return paginate(session, repository.tenants(), query)


def get(session: Session, slug: str) -> Tenant:
    tenant = repository.by_slug(session, slug)
    if tenant is None:
        raise TenantNotFoundError(f"no tenant {slug!r}")
    return tenant


def create(session: Session, principal: Principal, body: TenantCreate) -> Tenant:
    tenant = Tenant(slug=body.slug, name=body.name, status=TenantStatus.ACTIVE.value)
    if not repository.add(session, tenant):
        raise SlugTakenError(f"the slug {body.slug!r} is taken")
    audit.record(
        session,
        principal,
        Action.TENANTS_CREATE,
        target_type="tenant",
        target_id=tenant.slug,
        tenant_id=tenant.id,
        detail=audit.created(audit.snapshot(tenant, TENANT_FIELDS)),
    )
    return tenant


def update(
    session: Session, principal: Principal, slug: str, body: TenantUpdate, if_match: str | None
) -> Tenant:
    """Change the name or status of the version the client read (If-Match)."""
    tenant = repository.by_slug(session, slug, for_update=True)
    if tenant is None:
        raise TenantNotFoundError(f"no tenant {slug!r}")
    require_match(if_match, etag_of(tenant), f"tenant {slug}")
    before = audit.snapshot(tenant, TENANT_FIELDS)
    for field, value in body.model_dump(exclude_none=True).items():
        if str(getattr(tenant, field)) != str(value):
            setattr(tenant, field, str(value))
    changed = audit.changes(before, audit.snapshot(tenant, TENANT_FIELDS))
    if changed:
        session.flush()
        audit.record(
            session,
            principal,
            Action.TENANTS_UPDATE,
            target_type="tenant",
            target_id=tenant.slug,
            tenant_id=tenant.id,
            detail=changed,
        )
    return tenant
