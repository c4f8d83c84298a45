"""Quotes and policies as the API shows them (their lines, versions and allowed transitions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from cloud_api.policies import quotes, repository
from cloud_api.policies.lifecycle import allowed_from
from cloud_api.policies.schemas import (
    InForceOut,
    PolicyOut,
    PolicyVersionOut,
    QuoteLineOut,
    QuoteOut,
)
from database.models import InstallmentPlan, Policy, PolicyStatus, PolicyVersion, Quote


def quote_out(session: Session, quote: Quote, now: datetime) -> QuoteOut:
    return QuoteOut(
        id=quote.id,
        tenant=repository.tenant_slug(session, quote.tenant_id),
        product_id=quote.product_id,
        plan_version=quote.plan_version,
        status=quotes.status_of(quote, now),
        jurisdiction=quote.jurisdiction,
        currency=quote.currency,
        term_start=quote.term_start,
        term_end=quote.term_end,
        premium_minor=quote.premium_minor,
        tax_minor=quote.tax_minor,
        total_minor=quote.premium_minor + quote.tax_minor,
        created_at=quote.created_at,
        expires_at=quote.expires_at,
        renewal_of=quote.renewal_of,
        lines=[
            QuoteLineOut.model_validate(line) for line in repository.quote_lines(session, quote.id)
        ],
    )


def version_out(version: PolicyVersion) -> PolicyVersionOut:
    return PolicyVersionOut.model_validate(version)


def policy_out(session: Session, policy: Policy) -> PolicyOut:
    return policies_out(session, [policy])[0]


def policies_out(session: Session, policies: Sequence[Policy]) -> list[PolicyOut]:
    """A page of policies with their current versions and tenants: two queries for the page,
    not two per policy."""
    if not policies:
        return []
    latest = repository.latest_versions(session, [policy.id for policy in policies])
    slugs = repository.tenant_slugs(session, {policy.tenant_id for policy in policies})
    return [
        PolicyOut(
            id=policy.id,
            number=policy.number,
            tenant=slugs[policy.tenant_id],
            product_id=policy.product_id,
            quote_id=policy.quote_id,
            renewal_of=policy.renewal_of,
            status=PolicyStatus(policy.status),
            allowed_transitions=allowed_from(PolicyStatus(policy.status)),
            jurisdiction=policy.jurisdiction,
            currency=policy.currency,
            term_start=policy.term_start,
            term_end=policy.term_end,
            version=policy.version,
            created_at=policy.created_at,
            installments=InstallmentPlan(policy.installments),
            current=version_out(latest[policy.id]),
        )
        for policy in policies
    ]


def in_force_out(session: Session, policy: Policy, at: datetime) -> InForceOut:
    version = repository.version_at(session, policy.id, at)
    covered = (
        version is not None
        and version.status == PolicyStatus.IN_FORCE
        and policy.term_start <= at < policy.term_end
    )
    return InForceOut(
        policy_id=policy.id,
        at=at,
        in_force=covered,
        version=None if version is None else version_out(version),
    )
