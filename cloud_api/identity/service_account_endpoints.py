"""/v1/tenants/{tenant_slug}/service-accounts and their API keys: thin endpoints.

Both creating POSTs take an ``Idempotency-Key``; a new key's secret is withheld from the stored
reply (a retry answers null in its place, with ``Idempotent-Redacted: key``): a client that lost
the first answer revokes that key and issues another.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.conventions import IdempotencyDep, Listing, ListParams, ListQuery, Page, paginate
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import problem_responses
from cloud_api.identity import repository
from cloud_api.identity import service_accounts as accounts
from cloud_api.identity.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyOut,
    ServiceAccountCreate,
    ServiceAccountOut,
)
from cloud_api.sessions import SessionDep
from database.models import ApiKey, ServiceAccount

router = APIRouter(prefix="/v1/tenants/{tenant_slug}/service-accounts", tags=["service accounts"])

Reader = Annotated[Principal, Depends(Require(Action.SERVICE_ACCOUNTS_READ))]
Creator = Annotated[Principal, Depends(Require(Action.SERVICE_ACCOUNTS_CREATE))]
Revoker = Annotated[Principal, Depends(Require(Action.SERVICE_ACCOUNTS_REVOKE))]

SERVICE_ACCOUNTS = Listing(
    resource="service_accounts",
    sort_keys={"created_at": ServiceAccount.created_at, "name": ServiceAccount.name},
    tie_breaker=ServiceAccount.id,
    default_sort="created_at",
)
API_KEYS = Listing(
    resource="api_keys",
    sort_keys={"created_at": ApiKey.created_at, "expires_at": ApiKey.expires_at},
    tie_breaker=ApiKey.id,
    default_sort="created_at",
)


def _account_out(account: ServiceAccount, tenant: str) -> ServiceAccountOut:
    return ServiceAccountOut(
        id=account.id,
        tenant=tenant,
        name=account.name,
        created_by=account.created_by,
        disabled_at=account.disabled_at,
        created_at=account.created_at,
    )


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        service_account_id=key.service_account_id,
        scopes=list(key.scopes),
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("")
def list_service_accounts(
    principal: Reader,
    _limit: ReadLimit,
    tenant_slug: str,
    query: Annotated[ListQuery, Depends(ListParams(SERVICE_ACCOUNTS))],
    session: SessionDep,
) -> Page[ServiceAccountOut]:
    tenant = accounts.tenant_for(session, principal, tenant_slug)
    page = paginate(session, repository.service_accounts(tenant.id), query)
    return page.map(lambda account: _account_out(account, tenant.slug))


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409))
def create_service_account(
    *,
    principal: Creator,
    _limit: WriteLimit,
    tenant_slug: str,
    body: ServiceAccountCreate,
    session: SessionDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> ServiceAccountOut:
    def write() -> ServiceAccountOut:
        tenant = accounts.tenant_for(session, principal, tenant_slug)
        account = accounts.create_account(session, principal, tenant, name=body.name, now=_now())
        response.headers["Location"] = f"{router.prefix}/{account.id}".replace(
            "{tenant_slug}", tenant.slug
        )
        return _account_out(account, tenant.slug)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@router.get("/{account_id}")
def read_service_account(
    principal: Reader,
    _limit: ReadLimit,
    tenant_slug: str,
    account_id: uuid.UUID,
    session: SessionDep,
) -> ServiceAccountOut:
    tenant = accounts.tenant_for(session, principal, tenant_slug)
    return _account_out(accounts.account_of(session, tenant, account_id), tenant.slug)


@router.post("/{account_id}/disable")
def disable_service_account(
    principal: Revoker,
    _limit: WriteLimit,
    tenant_slug: str,
    account_id: uuid.UUID,
    session: SessionDep,
) -> ServiceAccountOut:
    """Disable the account; its keys are revoked with it."""
    tenant = accounts.tenant_for(session, principal, tenant_slug)
    account = accounts.disable_account(session, principal, tenant, account_id, _now())
    return _account_out(account, tenant.slug)


@router.get("/{account_id}/api-keys")
def list_api_keys(
    principal: Reader,
    _limit: ReadLimit,
    tenant_slug: str,
    account_id: uuid.UUID,
    query: Annotated[ListQuery, Depends(ListParams(API_KEYS))],
    session: SessionDep,
) -> Page[ApiKeyOut]:
    """The account's keys, never their secrets."""
    tenant = accounts.tenant_for(session, principal, tenant_slug)
    account = accounts.account_of(session, tenant, account_id)
    return paginate(session, repository.api_keys(account.id), query).map(_key_out)


@router.post(
    "/{account_id}/api-keys",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
)
def issue_api_key(
    *,
    principal: Creator,
    _limit: WriteLimit,
    tenant_slug: str,
    account_id: uuid.UUID,
    body: ApiKeyCreate,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> ApiKeyIssued:
    """A new key with these scopes; its secret is in this response only (a retry with the same
    Idempotency-Key answers null in its place, and Idempotent-Redacted: key)."""

    def write() -> ApiKeyIssued:
        tenant = accounts.tenant_for(session, principal, tenant_slug)
        issued = accounts.issue_key(
            session,
            principal,
            tenant,
            account_id,
            scopes=body.scopes,
            valid_for=timedelta(days=body.expires_in_days),
            now=_now(),
        )
        return ApiKeyIssued(**_key_out(issued.row).model_dump(), key=issued.text)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED, redact=("key",))


@router.post("/{account_id}/api-keys/{key_id}/revoke")
def revoke_api_key(
    principal: Revoker,
    _limit: WriteLimit,
    tenant_slug: str,
    account_id: uuid.UUID,
    key_id: uuid.UUID,
    session: SessionDep,
) -> ApiKeyOut:
    """Revoke a key: the next request with it is refused."""
    tenant = accounts.tenant_for(session, principal, tenant_slug)
    key = accounts.revoke_key(session, principal, tenant, account_id, key_id=key_id, now=_now())
    return _key_out(key)
