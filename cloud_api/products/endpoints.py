"""/v1/products: what is sold, as versioned data (underwriters write them; staff who may read)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response, status

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
from cloud_api.products import service
from cloud_api.products.schemas import ProductCreate, ProductOut, etag_of
from cloud_api.sessions import SessionDep
from database.models import Product, ProductStatus

router = APIRouter(prefix="/v1/products", tags=["products"])

PRODUCTS = Listing(
    resource="products",
    sort_keys={"code": Product.code, "created_at": Product.created_at},
    tie_breaker=Product.id,
    default_sort="code",
    filters={
        "code": Filter(Product.code),
        "status": Filter(Product.status, lambda v: ProductStatus(v).value),
    },
)
Reader = Annotated[Principal, Depends(Require(Action.PRODUCTS_READ))]
Writer = Annotated[Principal, Depends(Require(Action.PRODUCTS_WRITE))]


def _reply(product: Product, response: Response) -> ProductOut:
    response.headers["ETag"] = etag_of(product)
    return ProductOut.model_validate(product)


@router.get("")
def list_products(
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(PRODUCTS))],
) -> Page[ProductOut]:
    return service.list_page(session, query).map(ProductOut.model_validate)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409))
def create_product(
    body: ProductCreate,
    response: Response,
    session: SessionDep,
    principal: Writer,
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> ProductOut:
    """A new draft: the next version of the code (the first if the code is new). With an
    Idempotency-Key, a retry answers the first reply."""

    def write() -> ProductOut:
        product = service.create(session, principal, body)
        response.headers["Location"] = f"/v1/products/{product.id}"
        return _reply(product, response)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@router.get("/{product_id}")
def read_product(
    product_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
) -> ProductOut:
    return _reply(service.get(session, product_id), response)


@router.post("/{product_id}/activate", responses=problem_responses(409, 412, 428))
def activate_product(
    *,
    product_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Writer,
    _: WriteLimit,
    if_match: Annotated[str | None, Header()] = None,
) -> ProductOut:
    """Activate a draft (If-Match with the ETag read last): the rating plan in effect must price
    each of its coverages; the version of the same code that was active is retired."""
    product = service.activate(session, principal, product_id, if_match, now=datetime.now(UTC))
    return _reply(product, response)


@router.post("/{product_id}/retire", responses=problem_responses(409, 412, 428))
def retire_product(
    *,
    product_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Writer,
    _: WriteLimit,
    if_match: Annotated[str | None, Header()] = None,
) -> ProductOut:
    """Retire the active version (If-Match with the ETag read last): no new quote is made
    under it; the policies made under it keep it."""
    return _reply(service.retire(session, principal, product_id, if_match), response)
