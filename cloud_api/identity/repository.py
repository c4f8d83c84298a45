"""Queries of the identity domain: users, refresh tokens, service accounts, API keys.

Callers own the transaction. Rows that a rule reads and then changes are locked (FOR UPDATE),
so two requests spending one refresh token, or editing one user, are serialised.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from psycopg.errors import UniqueViolation
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from database.models import ApiKey, RefreshToken, ServiceAccount, Tenant, User


def is_unique_violation(exc: IntegrityError, constraint: str) -> bool:
    """Whether the insert broke this unique constraint (and not, say, a foreign key)."""
    cause = exc.orig
    return isinstance(cause, UniqueViolation) and cause.diag.constraint_name == constraint


def add(session: Session, row: User | RefreshToken | ServiceAccount | ApiKey) -> None:
    session.add(row)
    session.flush()


# Tenants (read only: the tenants domain owns them).


def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.slug == slug))


def tenant_slugs(session: Session, tenant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(tenant_ids)
    if not wanted:
        return {}
    rows = session.execute(select(Tenant.id, Tenant.slug).where(Tenant.id.in_(wanted)))
    return {tenant_id: slug for tenant_id, slug in rows}


# Users.


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def user_by_id(session: Session, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
    statement = select(User).where(User.id == user_id)
    if for_update:
        statement = statement.with_for_update()
    return session.scalar(statement)


_USER_WITH_TENANT_SLUG = (
    select(User, Tenant.slug)
    .outerjoin(Tenant, Tenant.id == User.tenant_id)
    .where(User.id == bindparam("user_id"))
)


def user_with_tenant_slug(session: Session, user_id: uuid.UUID) -> tuple[User, str | None] | None:
    """The user and its tenant's slug (None for staff), in one query: every request's lookup
    (its statement is built once: building costs more than running it)."""
    row = session.execute(_USER_WITH_TENANT_SLUG, {"user_id": user_id}).first()
    return None if row is None else (row[0], row[1])


def users() -> Select[User]:
    """Every user; joined with its tenant (if any) so a listing may filter on the slug."""
    return select(User).outerjoin(Tenant, Tenant.id == User.tenant_id)


# Refresh tokens.


def refresh_token_for_update(session: Session, token_id: uuid.UUID) -> RefreshToken | None:
    return session.scalar(select(RefreshToken).where(RefreshToken.id == token_id).with_for_update())


def revoke_family(session: Session, family_id: uuid.UUID, now: datetime, reason: str) -> int:
    """Revoke every live token of the family; the count revoked."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(RefreshToken.id)
    )
    return len(result.all())


def revoke_user_tokens(session: Session, user_id: uuid.UUID, now: datetime, reason: str) -> int:
    """Revoke every live refresh token of the user; the count revoked."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(RefreshToken.id)
    )
    return len(result.all())


# Service accounts and their API keys.


def service_accounts(tenant_id: uuid.UUID) -> Select[ServiceAccount]:
    return select(ServiceAccount).where(ServiceAccount.tenant_id == tenant_id)


def service_account(
    session: Session, tenant_id: uuid.UUID, account_id: uuid.UUID, *, for_update: bool = False
) -> ServiceAccount | None:
    statement = select(ServiceAccount).where(
        ServiceAccount.tenant_id == tenant_id, ServiceAccount.id == account_id
    )
    if for_update:
        statement = statement.with_for_update()
    return session.scalar(statement)


def service_account_by_name(
    session: Session, tenant_id: uuid.UUID, name: str
) -> ServiceAccount | None:
    return session.scalar(
        select(ServiceAccount).where(
            ServiceAccount.tenant_id == tenant_id, ServiceAccount.name == name
        )
    )


def api_keys(account_id: uuid.UUID) -> Select[ApiKey]:
    return select(ApiKey).where(ApiKey.service_account_id == account_id)


def api_key(
    session: Session, account_id: uuid.UUID, key_id: uuid.UUID, *, for_update: bool = False
) -> ApiKey | None:
    statement = select(ApiKey).where(ApiKey.service_account_id == account_id, ApiKey.id == key_id)
    if for_update:
        statement = statement.with_for_update()
    return session.scalar(statement)


def api_key_with_owner(
    session: Session, key_id: uuid.UUID
) -> tuple[ApiKey, ServiceAccount, Tenant] | None:
    """The key, its service account and their tenant: what authenticating a key needs."""
    row = session.execute(
        select(ApiKey, ServiceAccount, Tenant)
        .join(ServiceAccount, ServiceAccount.id == ApiKey.service_account_id)
        .join(Tenant, Tenant.id == ServiceAccount.tenant_id)
        .where(ApiKey.id == key_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def touch_api_key(session: Session, key_id: uuid.UUID, now: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


def revoke_account_keys(session: Session, account_id: uuid.UUID, now: datetime) -> int:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.service_account_id == account_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiKey.id)
    )
    return len(result.all())
