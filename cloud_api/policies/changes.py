"""Transitions that change what a policy covers: bind (a quote becomes a policy), endorse (robots
added or removed, limits and deductibles changed, pro rata by day), renew (the next term
offered as a quote priced from the robots' latest, capped premiums), and the earning of premium
by day."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.errors import ConflictError, UnprocessableError
from cloud_api.ledger.earning import endorsement_premium
from cloud_api.ledger.repository import earned_by_policy
from cloud_api.notifications import service as notifications
from cloud_api.notifications.schemas import EventType
from cloud_api.policies import book, quotes, repository, service
from cloud_api.policies.lifecycle import Transition, next_status
from cloud_api.policies.schemas import EndorsementCreate, QuoteCreate, RenewalCreate
from cloud_api.products import service as products
from cloud_api.products.schemas import ProductTerms
from database.models import InstallmentPlan, Policy, PolicyStatus, PolicyVersion, Quote


def schedule_line(
    robot_id: uuid.UUID, coverage: str, premium_minor: int, terms: ProductTerms
) -> dict[str, Any]:
    covered = terms.coverage(coverage)
    if covered is None:
        raise ConflictError(f"the product no longer has the coverage {coverage!r}")
    return {
        "robot_id": str(robot_id),
        "coverage": coverage,
        "premium_minor": premium_minor,
        "limit_minor": covered.limit_minor,
        "deductible_minor": covered.deductible_minor,
        "aggregate_minor": covered.aggregate_minor,
    }


def bind(
    session: Session,
    principal: Principal,
    quote_id: uuid.UUID,
    now: datetime,
    installments: InstallmentPlan = InstallmentPlan.ANNUAL,
) -> Policy:
    """The open quote becomes a bound policy (version 1), its lines the schedule, billed by
    ``installments``."""
    quote = quotes.take_for_binding(session, principal, quote_id, now)
    terms = products.terms_of(products.get(session, quote.product_id))
    if terms.term_months % installments.parts:
        raise UnprocessableError(
            f"a {terms.term_months}-month term cannot be billed in {installments.parts}"
            f" {installments} installments"
        )
    schedule = [
        schedule_line(line.robot_id, line.coverage, line.premium_minor, terms)
        for line in repository.quote_lines(session, quote.id)
    ]
    policy = Policy(
        tenant_id=quote.tenant_id,
        product_id=quote.product_id,
        quote_id=quote.id,
        renewal_of=quote.renewal_of,
        status=PolicyStatus.BOUND.value,
        jurisdiction=quote.jurisdiction,
        currency=quote.currency,
        term_start=quote.term_start,
        term_end=quote.term_end,
        version=1,
        created_at=now,
        installments=installments.value,
    )
    session.add(policy)
    session.flush()
    version = PolicyVersion(
        policy_id=policy.id,
        version_no=1,
        transition=Transition.BIND.value,
        status=PolicyStatus.BOUND.value,
        effective_from=quote.term_start,
        recorded_at=now,
        actor=str(principal.id),
        term_premium_minor=quote.premium_minor,
        premium_change_minor=0,
        tax_change_minor=0,
        schedule=schedule,
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        principal,
        Action.POLICIES_BIND,
        target_type="policy",
        target_id=policy.id,
        tenant_id=policy.tenant_id,
        detail={"quote": str(quote.id), "status": PolicyStatus.BOUND.value},
    )
    return policy


def endorse(
    session: Session,
    principal: Principal,
    policy_id: uuid.UUID,
    body: EndorsementCreate,
    now: datetime,
) -> Policy:
    policy = service.locked(session, principal, policy_id)
    next_status(PolicyStatus(policy.status), Transition.ENDORSE)
    latest = service.current(session, policy)
    terms = products.terms_of(products.get(session, policy.product_id))
    backdated = service.check_effective(policy, latest, terms, body.effective_on, now.date())
    schedule = [dict(line) for line in latest.schedule]
    on_policy = {uuid.UUID(line["robot_id"]) for line in schedule}
    absent = [str(r) for r in body.remove_robots if r not in on_policy]
    if absent:
        raise UnprocessableError(f"not on the policy: {', '.join(absent[:5])}")
    present = [str(r) for r in body.add_robots if r in on_policy]
    if present:
        raise UnprocessableError(f"already on the policy: {', '.join(present[:5])}")
    removed = {str(r) for r in body.remove_robots}
    schedule = [line for line in schedule if line["robot_id"] not in removed]
    coverages = sorted({line["coverage"] for line in latest.schedule})
    if body.add_robots:
        schedule += _priced_robots(
            session, policy, coverages=coverages, body=body, terms=terms, now=now
        )
    for changed in body.coverage_changes:
        _change_coverage(schedule, changed.model_dump(exclude_none=True))
    if not schedule:
        raise UnprocessableError("an endorsement cannot remove every robot: cancel instead")
    change_in_term = sum(x["premium_minor"] for x in schedule) - latest.term_premium_minor
    change = service.Change(
        Transition.ENDORSE,
        body.effective_on,
        schedule,
        premium_change_minor=endorsement_premium(
            change_in_term, service.term_of(policy), body.effective_on
        ),
        note=body.note,
    )
    service.record(session, principal, policy, change, now, backdated=backdated)
    return policy


def _priced_robots(
    session: Session,
    policy: Policy,
    *,
    coverages: list[str],
    body: EndorsementCreate,
    terms: ProductTerms,
    now: datetime,
) -> list[dict[str, Any]]:
    """Schedule lines of the robots added, priced as a quote for the whole term would be."""
    pricing = quotes.pricing_for(
        session, policy.product_id, coverages, policy.jurisdiction, now, in_force=True
    )
    tenant = repository.tenant_by_slug(session, repository.tenant_slug(session, policy.tenant_id))
    assert tenant is not None  # noqa: S101 - the policy's tenant exists (foreign key)
    robots = quotes.robots_to_price(session, tenant, body.add_robots)
    term_days = (policy.term_end - policy.term_start).days
    return [
        schedule_line(line.robot_id, line.coverage, line.premium_minor, terms)
        for line in quotes.priced(pricing, robots, term_days)
    ]


def _change_coverage(schedule: list[dict[str, Any]], changed: dict[str, Any]) -> None:
    lines = [line for line in schedule if line["coverage"] == changed["coverage"]]
    if not lines:
        raise UnprocessableError(f"the policy has no coverage {changed['coverage']!r}")
    for line in lines:
        line.update({k: v for k, v in changed.items() if k != "coverage"})
        if line["deductible_minor"] >= line["limit_minor"]:
            raise UnprocessableError("the deductible must be below the limit")
        if line["aggregate_minor"] < line["limit_minor"]:
            raise UnprocessableError("the aggregate must be at least the limit")


def renew(
    session: Session,
    principal: Principal,
    policy_id: uuid.UUID,
    body: RenewalCreate,
    now: datetime,
) -> Quote:
    """Offer the next term: a quote for the robots and coverages now on the policy, priced by
    the plan in force from their latest scores (whose premiums the plan caps against the
    premium in force). Recorded on the policy as a ``renew`` version; binding the quote makes
    the renewal policy."""
    policy = service.locked(session, principal, policy_id)
    next_status(PolicyStatus(policy.status), Transition.RENEW)
    if repository.renewal_offered(session, policy.id, now):
        raise ConflictError("the next term is offered already: bind that quote or let it expire")
    latest = service.current(session, policy)
    robot_ids = list(dict.fromkeys(uuid.UUID(line["robot_id"]) for line in latest.schedule))
    coverages = sorted({line["coverage"] for line in latest.schedule})
    offer = QuoteCreate(
        tenant=repository.tenant_slug(session, policy.tenant_id),
        product_id=products.current_version(session, policy.product_id).id,
        robot_ids=robot_ids,
        coverages=coverages,
        jurisdiction=body.jurisdiction or policy.jurisdiction,
        term_start=policy.term_end.date(),
    )
    quote = quotes.create(session, principal, offer, now, renewal_of=policy.id)
    change = service.Change(
        Transition.RENEW,
        max(now.date(), latest.effective_from.date()),
        latest.schedule,
        note=f"renewal offered: quote {quote.id}",
    )
    if change.effective_on >= policy.term_end.date():
        raise ConflictError("the term is over: the policy expires; quote a new one")
    service.record(session, principal, policy, change, now)
    notifications.notify(
        session,
        tenant_id=policy.tenant_id,
        event=EventType.RENEWAL_OFFERED,
        subject=("policy", policy.id),
        payload={
            "number": policy.number,
            "quote_id": str(quote.id),
            "term_start": quote.term_start.isoformat(),
            "premium_minor": quote.premium_minor,
            "tax_minor": quote.tax_minor,
            "currency": quote.currency,
            "expires_at": quote.expires_at.isoformat(),
        },
        now=now,
    )
    return quote


def earn(session: Session, policy_id: uuid.UUID, now: datetime) -> int:
    """Post the premium the policy earned up to the end of yesterday that the ledger does not
    hold yet (the daily job does this for the whole book, ``book.earn_batch``). Returns the
    amount posted: 0 on a second run the same day."""
    through = now.date() - timedelta(days=1)
    before = earned_by_policy(session, [policy_id]).get(policy_id, 0)
    book.earn_batch(session, repository.earning_rows_of(session, [policy_id]), through, now.date())
    return earned_by_policy(session, [policy_id]).get(policy_id, 0) - before
