"""/v1/tenants: the insured organisations (admins change them; staff who may read them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response, status

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.conventions import (
    Filter,
    IdempotencyDep,
    Listing,
    ListParams,
    ListQuery,
    Page,
)
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import problem_responses
from cloud_api.sessions import SessionDep
from cloud_api.tenants import service
from cloud_api.tenants.schemas import SLUG_PATTERN, TenantCreate, TenantOut, TenantUpdate, etag_of
from database.models import Tenant, TenantStatus

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])

TENANTS = Listing(
    resource="tenants",
    sort_keys={"created_at": Tenant.created_at, "slug": Tenant.slug},
    tie_breaker=Tenant.id,
    default_sort="slug",
    filters={"status": Filter(Tenant.status, lambda v: TenantStatus(v).value)},
)
SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN)]


@router.get("")
def list_tenants(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.TENANTS_READ))],
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(TENANTS))],
) -> Page[TenantOut]:
    return service.list_page(session, query).map(TenantOut.model_validate)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409))
def create_tenant(
    body: TenantCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.TENANTS_CREATE))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> TenantOut:
    """A new tenant; with an Idempotency-Key, a retry answers the first reply."""

    def write() -> TenantOut:
        tenant = service.create(session, principal, body)
        response.headers["Location"] = f"/v1/tenants/{tenant.slug}"
        response.headers["ETag"] = etag_of(tenant)
        return TenantOut.model_validate(tenant)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@router.get("/{slug}")
def read_tenant(
    slug: SlugPath,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.TENANTS_READ))],
    _: ReadLimit,
) -> TenantOut:
    tenant = service.get(session, slug)
    response.headers["ETag"] = etag_of(tenant)
    return TenantOut.model_validate(tenant)


@router.patch("/{slug}", responses=problem_responses(412, 428))
def update_tenant(
    *,
    slug: SlugPath,
    body: TenantUpdate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.TENANTS_UPDATE))],
    _: WriteLimit,
    if_match: Annotated[str | None, Header()] = None,
) -> TenantOut:
    """Change the name or the status; If-Match with the ETag read last is required."""
    tenant = service.update(session, principal, slug, body, if_match)
    response.headers["ETag"] = etag_of(tenant)
    return TenantOut.model_validate(tenant)
