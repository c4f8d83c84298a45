"""Quotes: a fleet's robots and coverages priced under an active product version and the
approved rating plan in effect, each line explained; binding an open quote makes a policy.

Rules (services never commit; the request owns the transaction):
* A policyholder quotes for its own tenant only; staff name the tenant. Every robot must be
  the tenant's (another tenant's robot is not found) and not revoked.
* The product's currency is the rating plan's, and the quote's jurisdiction has a premium tax
  rate in the product.
* A quote expires ``quote_valid_days`` after it is made; binding an expired or bound quote
  is a 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal
from cloud_api.errors import ConflictError, NotFoundError, UnprocessableError
from cloud_api.ledger.calendar import add_months, midnight
from cloud_api.ledger.money import basis_points
from cloud_api.policies import repository
from cloud_api.policies.pricing import (
    PricedLine,
    RobotToPrice,
    UnratedCoverageError,
    price_lines,
)
from cloud_api.policies.schemas import QuoteCreate, QuoteStatusOut
from cloud_api.products import service as products
from cloud_api.products.schemas import CoverageTerms, ProductTerms
from database.models import Product, Quote, QuoteStatus, RobotStatus, Tenant
from risk_engine.plans.repository import PlanError, StoredPlan, active_plan

MAX_DAYS_AHEAD = 366


class QuoteNotFoundError(NotFoundError):
    pass


class QuoteNotBindableError(ConflictError):
    pass


@dataclass(frozen=True)
class Pricing:
    """What a quote is priced under."""

    product: Product
    terms: ProductTerms
    plan: StoredPlan
    coverages: list[CoverageTerms]
    tax_bp: int


def quote_tenant(session: Session, principal: Principal, slug: str | None) -> Tenant:
    scope = tenant_scope(principal)
    wanted = slug if slug is not None else scope
    if wanted is None:
        raise UnprocessableError("staff name the tenant to quote for")
    if scope is not None and wanted != scope:
        raise NotFoundError(f"no tenant {wanted!r}")
    tenant = repository.tenant_by_slug(session, wanted)
    if tenant is None:
        raise NotFoundError(f"no tenant {wanted!r}")
    return tenant


def pricing_for(
    session: Session,
    product_id: uuid.UUID,
    coverages: list[str] | None,
    jurisdiction: str,
    now: datetime,
    *,
    in_force: bool = False,
) -> Pricing:
    """What a quote is priced under: an active product version, or (``in_force``: a change of
    a policy made under it) the policy's own version, active or not."""
    product = (
        products.get(session, product_id)
        if in_force
        else products.active_product(session, product_id)
    )
    terms = products.terms_of(product)
    try:
        plan = active_plan(session.connection(), now)
    except PlanError as error:
        raise ConflictError(str(error)) from None
    if plan.plan.currency != product.currency:
        raise ConflictError(
            f"the product is sold in {product.currency}, the rating plan in force rates in "
            f"{plan.plan.currency}"
        )
    tax_bp = terms.premium_tax_bp.get(jurisdiction)
    if tax_bp is None:
        raise UnprocessableError(f"the product has no premium tax rate for {jurisdiction!r}")
    chosen = []
    for code in coverages if coverages is not None else [c.code for c in terms.coverages]:
        coverage = terms.coverage(code)
        if coverage is None:
            raise UnprocessableError(f"the product has no coverage {code!r}")
        chosen.append(coverage)
    return Pricing(product, terms, plan, chosen, tax_bp)


def robots_to_price(
    session: Session, tenant: Tenant, robot_ids: list[uuid.UUID]
) -> list[RobotToPrice]:
    robots = {r.id: r for r in repository.robots_of_tenant(session, tenant.id, robot_ids)}
    missing = [str(r) for r in robot_ids if r not in robots]
    if missing:
        raise NotFoundError(f"no robot {', '.join(missing[:5])}")
    revoked = [str(r.id) for r in robots.values() if r.status == RobotStatus.REVOKED]
    if revoked:
        raise ConflictError(f"revoked robots cannot be insured: {', '.join(revoked[:5])}")
    scores = repository.latest_scores(session, robot_ids)
    return [RobotToPrice(r, robots[r].robot_class, scores.get(r)) for r in robot_ids]


def priced(pricing: Pricing, robots: list[RobotToPrice], term_days: int) -> list[PricedLine]:
    try:
        return price_lines(
            pricing.plan.plan,
            pricing.plan.version,
            robots=robots,
            coverages=pricing.coverages,
            term_days=term_days,
            currency=pricing.product.currency,
        )
    except UnratedCoverageError as error:
        raise ConflictError(str(error)) from None


def check_term_start(start: date, terms: ProductTerms, today: date) -> None:
    """A term starts within the product's backdating window and at most a year ahead."""
    if (today - start).days > terms.backdating_days:
        raise UnprocessableError(
            f"the term cannot start on {start}: more than {terms.backdating_days} days in the "
            "past (the product's backdating window)"
        )
    if (start - today).days > MAX_DAYS_AHEAD:
        raise UnprocessableError(f"the term cannot start more than {MAX_DAYS_AHEAD} days ahead")


def create(
    session: Session,
    principal: Principal,
    body: QuoteCreate,
    now: datetime,
    *,
    renewal_of: uuid.UUID | None = None,
) -> Quote:
    tenant = quote_tenant(session, principal, body.tenant)
    pricing = pricing_for(session, body.product_id, body.coverages, body.jurisdiction, now)
    check_term_start(body.term_start, pricing.terms, now.date())
    start = midnight(body.term_start)
    end = midnight(add_months(body.term_start, pricing.terms.term_months))
    lines = priced(pricing, robots_to_price(session, tenant, body.robot_ids), (end - start).days)
    premium = sum(line.premium_minor for line in lines)
    quote = Quote(
        tenant_id=tenant.id,
        product_id=pricing.product.id,
        plan_version=pricing.plan.version,
        status=QuoteStatus.OPEN.value,
        jurisdiction=body.jurisdiction,
        currency=pricing.product.currency,
        term_start=start,
        term_end=end,
        premium_minor=premium,
        tax_minor=basis_points(premium, pricing.tax_bp),
        created_at=now,
        expires_at=now + timedelta(days=pricing.terms.quote_valid_days),
        created_by=str(principal.id),
        renewal_of=renewal_of,
    )
    session.add(quote)
    session.flush()
    repository.add_quote_lines(session, quote.id, lines)
    return quote


def get(session: Session, principal: Principal, quote_id: uuid.UUID) -> Quote:
    quote = repository.quote(session, quote_id, tenant_scope(principal))
    if quote is None:
        raise QuoteNotFoundError(f"no quote {quote_id}")
    return quote


def status_of(quote: Quote, now: datetime) -> QuoteStatusOut:
    if quote.status == QuoteStatus.BOUND:
        return QuoteStatusOut.BOUND
    return QuoteStatusOut.EXPIRED if quote.expires_at <= now else QuoteStatusOut.OPEN


def take_for_binding(
    session: Session, principal: Principal, quote_id: uuid.UUID, now: datetime
) -> Quote:
    """The quote, locked and marked bound; 409 unless it is open."""
    quote = repository.quote(session, quote_id, tenant_scope(principal), for_update=True)
    if quote is None:
        raise QuoteNotFoundError(f"no quote {quote_id}")
    status = status_of(quote, now)
    if status is not QuoteStatusOut.OPEN:
        raise QuoteNotBindableError(f"the quote is {status}: only an open quote binds")
    quote.status = QuoteStatus.BOUND.value
    return quote
