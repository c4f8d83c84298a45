"""Factories of the claims tests: a tenant's fleet insured by an issued policy whose term began
twenty days ago, and a claims adjuster, all in the test's rolled-back transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from cloud_api.access.roles import Role
from cloud_api.identity.passwords import hash_password
from cloud_api.policies import changes, quotes, service
from cloud_api.policies.schemas import QuoteCreate
from database.models import Policy, Robot, User
from tests.integration.api.policy_factories import active_product, fleet, plan_in_force
from tests.support.api import ApiHarness, principal

UNDERWRITER = principal(Role.UNDERWRITER)
_UNUSED_PASSWORD_HASH = hash_password("an adjuster's own password")  # made once, not per test
TERM_BEGAN_DAYS_AGO = 20


@dataclass(frozen=True)
class InsuredFleet:
    policy: Policy
    robots: list[Robot]  # all insured but the last, which is on no policy
    term_start: datetime


def insured_fleet(api: ApiHarness, tenant: str = "alpha", insured: int = 2) -> InsuredFleet:
    session = api.session
    version = plan_in_force(session)
    product = active_product(session)
    premiums: list[float | None] = [1200.0 - 100 * i for i in range(insured)]
    premiums.append(900.0)
    robots = fleet(session, api.tenant(tenant), version, premiums)
    now = datetime.now(UTC)
    start = (now - timedelta(days=TERM_BEGAN_DAYS_AGO)).date()
    offer = QuoteCreate(
        tenant=tenant,
        product_id=product.id,
        robot_ids=[r.id for r in robots[:insured]],
        jurisdiction="DE",
        term_start=start,
    )
    quote = quotes.create(session, UNDERWRITER, offer, now)
    policy = changes.bind(session, UNDERWRITER, quote.id, now)
    service.issue(session, UNDERWRITER, policy.id, now)
    return InsuredFleet(policy, robots, policy.term_start)


def adjuster(session: Session, *, disabled: bool = False) -> User:
    user = User(
        id=uuid.uuid4(),
        email=f"adjuster-{uuid.uuid4().hex[:8]}@example.test",
        full_name="Ada Adjuster",
        role=Role.CLAIMS_ADJUSTER.value,
        password_hash=_UNUSED_PASSWORD_HASH,
        disabled_at=datetime.now(UTC) if disabled else None,
    )
    session.add(user)
    session.flush()
    return user
