"""Factories of the claims tests: a tenant's fleet insured by an issued policy whose term began
twenty days ago, a claims adjuster, an approved claim and its payout's request, all in the test's
rolled-back transaction; and the jobs worker's payout sender pointed at a local fake processor."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import Session

from cloud_api.access.roles import Role
from cloud_api.billing.processor import ProcessorClient
from cloud_api.claims import tasks
from cloud_api.identity.passwords import hash_password
from cloud_api.policies import changes, quotes, service
from cloud_api.policies.schemas import QuoteCreate
from cloud_api.worker import payout_sender
from database.models import Claim, ClaimEvent, ClaimReserve, Policy, Robot, User
from ingest.connectors.breaker import CircuitBreaker
from tests.integration.api.policy_factories import active_product, fleet, plan_in_force
from tests.support.api import ApiHarness, principal
from tests.support.fake_processor import API_KEY, FakeProcessor, serve_processor

UNDERWRITER = principal(Role.UNDERWRITER)
ADJUSTER = principal(Role.CLAIMS_ADJUSTER)
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


def approved_claim(api: ApiHarness, insured: InsuredFleet, robot: int = 0) -> dict[str, Any]:
    """A breakdown claim on one of the fleet's robots, triaged, reserved at 2,000.00 and
    approved at an agreed loss of 2,500.00, through the API as an adjuster: its last answer."""
    staff = api.client(ADJUSTER)
    claim = staff.post(
        "/v1/claims",
        json={
            "robot_id": str(insured.robots[robot].id),
            "coverage": "breakdown",
            "loss_at": insured.term_start.isoformat(),
            "description": "Gearbox.",
        },
    ).json()
    for action, body in [
        ("triage", {"severity": "medium", "fast_track": True}),
        ("reserves", {"cost_type": "repair", "amount_minor": 200_000}),
        ("approve", {"agreed_loss_minor": 250_000}),
    ]:
        response = staff.post(f"/v1/claims/{claim['id']}/{action}", json=body)
        assert response.status_code == 200, response.text
    approved: dict[str, Any] = response.json()
    return approved


def request_payout(api: ApiHarness, claim_id: str) -> Any:
    return api.client(ADJUSTER).post(
        f"/v1/claims/{claim_id}/payouts", json={"payee_token": "ba_acme_1"}
    )


@contextlib.contextmanager
def payout_sender_to(
    processor: FakeProcessor,
    breaker: CircuitBreaker,
    *,
    api_key: str = API_KEY,
    timeout_s: float = 0.5,
    attempts: int = 3,
) -> Iterator[tasks.Send]:
    """The jobs worker's payout sender, its processor client pointed at ``processor`` served
    on a local port for the block's length."""
    with serve_processor(processor) as url, httpx.Client(timeout=timeout_s) as http:
        client = ProcessorClient(
            http, url, SecretStr(api_key), breaker, attempts=attempts, max_wait_s=0.05
        )
        yield payout_sender(client)
