"""Products: versions written by underwriters as drafts, activated, retired; read by staff who
may (the permission table).

A version's terms never change once written: a change is a new version of the same code, a
draft until it is activated. Activating a version retires the one that was active, in the same
transaction, so a code has at most one active version; and a version is activated only if the
rating plan in effect prices every one of its coverages. Quotes and policies keep the version
they were made under (``active_product`` and ``terms_of`` are what they call). Every change
records an audit event in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.orm import Session

from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.conventions import ListQuery, Page, paginate
from cloud_api.conventions.etags import require_match
from cloud_api.errors import ConflictError, NotFoundError
from cloud_api.products import repository
from cloud_api.products.schemas import ProductCreate, ProductTerms, etag_of
from database.models import Product, ProductStatus
from risk_engine.plans.repository import PlanError, active_plan

PRODUCT_FIELDS: Final = ("code", "version", "name", "status", "currency", "terms")
STATUS_FIELDS: Final = ("status", "activated_at", "activated_by")
TARGET: Final = "product"
CREATED: Final = "products:create"
ACTIVATED: Final = "products:activate"
RETIRED: Final = "products:retire"


class ProductNotFoundError(NotFoundError):
    pass


class ProductVersionTakenError(ConflictError):
    pass


class ProductStatusError(ConflictError):
    """The version's status does not allow the change asked."""


class ProductNotActiveError(ConflictError):
    """Quotes and policies are made under an active version only."""


class ProductNotRatedError(ConflictError):
    """The rating plan in effect does not price every coverage of the version."""


def _name(product: Product) -> str:
    return f"product {product.code} version {product.version}"


def list_page(session: Session, query: ListQuery) -> Page[Product]:
    return paginate(session, repository.products(), query)


def get(session: Session, product_id: uuid.UUID) -> Product:
    product = repository.by_id(session, product_id)
    if product is None:
        raise ProductNotFoundError(f"no product {product_id}")
    return product


def terms_of(product: Product) -> ProductTerms:
    return ProductTerms.model_validate(product.terms)


def active_product(session: Session, product_id: uuid.UUID) -> Product:
    """The version a quote or a policy may be made under: 404 if missing, 409 unless active."""
    product = get(session, product_id)
    if product.status != ProductStatus.ACTIVE:
        raise ProductNotActiveError(f"{_name(product)} is {product.status}, not active")
    return product


def create(session: Session, principal: Principal, body: ProductCreate) -> Product:
    """A new draft, the next version of ``body.code`` (1 if the code is new)."""
    product = Product(
        code=body.code,
        version=repository.latest_version(session, body.code) + 1,
        name=body.name,
        status=ProductStatus.DRAFT.value,
        currency=body.currency,
        terms=body.terms.model_dump(mode="json"),
        created_by=str(principal.id),
    )
    if not repository.add(session, product):
        raise ProductVersionTakenError(
            f"{_name(product)} was written meanwhile; read the versions and try again"
        )
    audit.record(
        session,
        principal,
        CREATED,
        target_type=TARGET,
        target_id=product.id,
        tenant_id=None,
        detail=audit.created(audit.snapshot(product, PRODUCT_FIELDS)),
    )
    return product


def _locked(session: Session, product_id: uuid.UUID, if_match: str | None) -> Product:
    """The version, locked, as the client read it (If-Match); its code's changes take turns."""
    product = repository.by_id(session, product_id, for_update=True)
    if product is None:
        raise ProductNotFoundError(f"no product {product_id}")
    require_match(if_match, etag_of(product), _name(product))
    repository.lock_code(session, product.code)
    return product


def _require_status(product: Product, status: ProductStatus, rule: str) -> None:
    """An illegal change of status: the refusal names the status the version is in."""
    if product.status != status:
        raise ProductStatusError(f"{_name(product)} is {product.status}: {rule}")


def _require_rated(session: Session, product: Product, now: datetime) -> None:
    try:
        stored = active_plan(session.connection(), now)
    except PlanError as exc:
        raise ProductNotRatedError(f"{_name(product)} cannot be activated: {exc}") from exc
    priced = {rate.coverage for rate in stored.plan.base_rates}
    unpriced = sorted({c.plan_coverage for c in terms_of(product).coverages} - priced)
    if unpriced:
        raise ProductNotRatedError(
            f"{_name(product)} cannot be activated: rating plan {stored.version} prices no "
            f"coverage {', '.join(unpriced)} (it prices {', '.join(sorted(priced))})"
        )


def _record_change(
    session: Session,
    principal: Principal,
    product: Product,
    action: str,
    before: Mapping[str, object],
    **context: str,
) -> None:
    session.flush()
    after = audit.snapshot(product, STATUS_FIELDS)
    audit.record(
        session,
        principal,
        action,
        target_type=TARGET,
        target_id=product.id,
        tenant_id=None,
        detail={**audit.changes(before, after), **context},
    )


def _retire(session: Session, principal: Principal, product: Product, **context: str) -> None:
    before = audit.snapshot(product, STATUS_FIELDS)
    product.status = ProductStatus.RETIRED.value
    _record_change(session, principal, product, RETIRED, before, **context)


def activate(
    session: Session,
    principal: Principal,
    product_id: uuid.UUID,
    if_match: str | None,
    *,
    now: datetime | None = None,
) -> Product:
    """Activate a draft the rating plan in effect ``now`` prices; the version of its code that
    was active is retired."""
    now = now or datetime.now(UTC)
    product = _locked(session, product_id, if_match)
    _require_status(product, ProductStatus.DRAFT, "only a draft can be activated")
    _require_rated(session, product, now)
    previous = repository.active_version(session, product.code)
    if previous is not None:
        _retire(session, principal, previous, superseded_by=str(product.id))
    before = audit.snapshot(product, STATUS_FIELDS)
    product.status = ProductStatus.ACTIVE.value
    product.activated_at = now
    product.activated_by = str(principal.id)
    _record_change(session, principal, product, ACTIVATED, before)
    return product


def retire(
    session: Session, principal: Principal, product_id: uuid.UUID, if_match: str | None
) -> Product:
    """Retire the active version: no new quote is made under it; policies keep it."""
    product = _locked(session, product_id, if_match)
    _require_status(product, ProductStatus.ACTIVE, "only an active version can be retired")
    _retire(session, principal, product)
    return product


def current_version(session: Session, product_id: uuid.UUID) -> Product:
    """The active version of the product this version belongs to (a renewal is sold under
    it); 409 if the product is no longer sold."""
    product = get(session, product_id)
    active = repository.active_version(session, product.code)
    if active is None:
        raise ProductNotActiveError(f"no version of {product.code!r} is sold now")
    return active
