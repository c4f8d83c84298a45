"""A tenant's service accounts and their API keys: the rules.

Every route reaches a service account through its tenant's slug: an unknown tenant, a tenant
the principal may not see, and an account of another tenant are all 404. An API key's scopes
are checked against the ceiling of the permission table (``ungrantable_scopes``): a scope
beyond it is refused with 422 naming it, never stored. A key's secret is returned once, when
it is made; only its SHA-256 is kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.permissions import can_see_tenant, ungrantable_scopes
from cloud_api.access.roles import Principal, Role
from cloud_api.audit import service as audit
from cloud_api.errors import ConflictError, NotFoundError, UnprocessableError
from cloud_api.identity import repository
from cloud_api.identity.opaque_secrets import SecretKind, issue_secret
from database.models import ApiKey, ServiceAccount, Tenant


def tenant_for(session: Session, principal: Principal, slug: str) -> Tenant:
    """The tenant of this slug, if the principal may see it; 404 otherwise (not 403: the
    answer must not say whether another tenant exists)."""
    tenant = repository.tenant_by_slug(session, slug)
    if tenant is None or not can_see_tenant(principal, slug):
        raise NotFoundError(f"no tenant {slug}")
    return tenant


def account_of(
    session: Session, tenant: Tenant, account_id: uuid.UUID, *, for_update: bool = False
) -> ServiceAccount:
    account = repository.service_account(session, tenant.id, account_id, for_update=for_update)
    if account is None:
        raise NotFoundError(f"no service account {account_id} in tenant {tenant.slug}")
    return account


def create_account(
    session: Session, principal: Principal, tenant: Tenant, *, name: str, now: datetime
) -> ServiceAccount:
    if repository.service_account_by_name(session, tenant.id, name) is not None:
        raise ConflictError(f"tenant {tenant.slug} has a service account named {name!r}")
    account = ServiceAccount(
        tenant_id=tenant.id, name=name, created_by=_user_id(principal), created_at=now
    )
    try:
        with session.begin_nested():
            repository.add(session, account)
    except IntegrityError as exc:
        if not repository.is_unique_violation(exc, "uq_service_accounts_tenant_id_name"):
            raise
        raise ConflictError(f"tenant {tenant.slug} has a service account named {name!r}") from None
    audit.record(
        session,
        principal,
        "service_accounts:create",
        target_type="service_account",
        target_id=account.id,
        tenant_id=tenant.id,
        detail=audit.created({"name": name, "created_by": account.created_by}),
    )
    return account


def _user_id(principal: Principal) -> uuid.UUID | None:
    """The creator, when it is a user (a service account never creates one)."""
    return None if principal.role is Role.SERVICE else principal.id


def disable_account(
    session: Session, principal: Principal, tenant: Tenant, account_id: uuid.UUID, now: datetime
) -> ServiceAccount:
    """Disable the account and revoke its keys; disabling it again changes nothing."""
    account = account_of(session, tenant, account_id, for_update=True)
    if account.disabled_at is not None:
        return account
    before = audit.snapshot(account, ("disabled_at",))
    account.disabled_at = now
    revoked = repository.revoke_account_keys(session, account.id, now)
    session.flush()
    audit.record(
        session,
        principal,
        "service_accounts:disable",
        target_type="service_account",
        target_id=account.id,
        tenant_id=tenant.id,
        detail={
            **audit.changes(before, audit.snapshot(account, ("disabled_at",))),
            "keys_revoked": revoked,
        },
    )
    return account


@dataclass(frozen=True, slots=True)
class IssuedKey:
    row: ApiKey
    text: str  # rck_...: for the response, once


def issue_key(
    session: Session,
    principal: Principal,
    tenant: Tenant,
    account_id: uuid.UUID,
    *,
    scopes: Iterable[Action],
    valid_for: timedelta,
    now: datetime,
) -> IssuedKey:
    wanted = frozenset(scopes)
    refused = ungrantable_scopes(wanted)
    if refused:
        raise UnprocessableError(
            "a service account may not hold these scopes: " + ", ".join(sorted(refused))
        )
    account = account_of(session, tenant, account_id, for_update=True)
    if account.disabled_at is not None:
        raise ConflictError(f"service account {account.id} is disabled")
    secret = issue_secret(SecretKind.API_KEY)
    row = ApiKey(
        id=secret.key_id,
        service_account_id=account.id,
        secret_hash=secret.digest,
        scopes=sorted(scope.value for scope in wanted),
        created_at=now,
        expires_at=now + valid_for,
    )
    repository.add(session, row)
    audit.record(
        session,
        principal,
        "service_accounts:issue_key",
        target_type="api_key",
        target_id=row.id,
        tenant_id=tenant.id,
        detail=audit.created(
            {"service_account": account.id, "scopes": row.scopes, "expires_at": row.expires_at}
        ),
    )
    return IssuedKey(row, secret.text)


def revoke_key(
    session: Session,
    principal: Principal,
    tenant: Tenant,
    account_id: uuid.UUID,
    *,
    key_id: uuid.UUID,
    now: datetime,
) -> ApiKey:
    """Revoke the key (at once: the next request with it is 401); again changes nothing."""
    account = account_of(session, tenant, account_id)
    key = repository.api_key(session, account.id, key_id, for_update=True)
    if key is None:
        raise NotFoundError(f"no API key {key_id} of service account {account.id}")
    if key.revoked_at is not None:
        return key
    before = audit.snapshot(key, ("revoked_at",))
    key.revoked_at = now
    session.flush()
    audit.record(
        session,
        principal,
        "service_accounts:revoke_key",
        target_type="api_key",
        target_id=key.id,
        tenant_id=tenant.id,
        detail={
            **audit.changes(before, audit.snapshot(key, ("revoked_at",))),
            "service_account": str(account.id),
        },
    )
    return key
