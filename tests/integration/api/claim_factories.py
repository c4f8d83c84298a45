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
from database.models import Claim, ClaimEvent, ClaimReserve, Policy, Robot, User
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


Moves = list[tuple[datetime, int]]


def recorded_claim(
    session: Session,
    fleet: InsuredFleet,
    robot: Robot,
    loss: datetime,
    moves: tuple[Moves, Moves],
    *,
    decision_code: str | None = None,
) -> Claim:
    """A claim on ``robot`` as the reports read it: ``moves``, its reserve changes and its
    payments (rows written directly, at the times given), in EUR."""
    reserves, payments = moves
    claim = Claim(
        id=uuid.uuid4(),
        number=f"CL-T-{uuid.uuid4().hex[:8]}",
        tenant_id=fleet.policy.tenant_id,
        policy_id=fleet.policy.id,
        robot_id=robot.id,
        coverage="breakdown",
        status="closed" if decision_code else "under_review",
        decision_code=decision_code,
        loss_at=loss,
        reported_at=loss,
        reported_by="test",
        description="x",
        currency="EUR",
        covered=True,
        coverage_check={},
        updated_at=loss,
    )
    session.add(claim)
    session.flush()
    level = 0
    for when, change in reserves:
        level += change
        session.add(
            ClaimReserve(
                claim_id=claim.id,
                cost_type="repair",
                amount_minor=max(level, 0),
                change_minor=change,
                cause="set",
                set_at=when,
                set_by="test",
            )
        )
    for when, amount in payments:
        session.add(
            ClaimEvent(
                claim_id=claim.id,
                at=when,
                actor="test",
                kind="transition",
                transition="pay",
                detail={"amount_minor": amount},
            )
        )
    session.flush()
    return claim
