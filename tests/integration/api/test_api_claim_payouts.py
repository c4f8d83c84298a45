"""Claims paid out through the payment processor's adapter, against the local fake processor:
an approved claim's payout is sent by the job and pays the claim once (the ledger's cash, the
reserves used); a 5xx and a timeout are retried under one Idempotency-Key; while the processor
is down the payout waits and goes through, once, when it is back; a refused payout fails with
its reason and leaves the claim approved for another; one payout under way at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud_api.access.roles import Role
from cloud_api.claims import tasks
from cloud_api.ledger import repository as ledger
from database.models import Account
from ingest.connectors.breaker import CircuitBreaker
from tests.integration.api.claim_factories import (
    ADJUSTER,
    InsuredFleet,
    approved_claim,
    insured_fleet,
    payout_sender_to,
    request_payout,
)
from tests.support.api import ApiHarness, principal, savepoints
from tests.support.fake_processor import FakeProcessor


@pytest.fixture
def approved(api: ApiHarness) -> tuple[InsuredFleet, Any]:
    insured = insured_fleet(api)
    return insured, approved_claim(api, insured)


def cash(api: ApiHarness, insured: InsuredFleet) -> int:
    return ledger.balances(api.session, policy_id=insured.policy.id).get((Account.CASH, "EUR"), 0)


def test_a_payout_pays_the_claim_once_through_retries(
    api: ApiHarness, approved: tuple[InsuredFleet, Any]
) -> None:
    insured, claim = approved
    before = cash(api, insured)
    payout = request_payout(api, claim["id"])
    assert payout.status_code == 202, payout.text
    assert (payout.json()["status"], payout.json()["amount_minor"]) == ("pending", 200_000)
    assert request_payout(api, claim["id"]).status_code == 409  # one under way at a time
    processor = FakeProcessor(script=["500", "timeout"], delay_s=1.0)
    with payout_sender_to(processor, CircuitBreaker(threshold=5, cooldown_s=0.3)) as send:
        counts = tasks.pay_out_due(savepoints(api.session), send, datetime.now(UTC))
        again = tasks.pay_out_due(
            savepoints(api.session), send, datetime.now(UTC) + timedelta(days=1)
        )
    assert counts == {"paid": 1, "failed": 0, "waiting": 0}
    assert again == {"paid": 0, "failed": 0, "waiting": 0}
    assert processor.requests == 3
    assert len(processor.charges) == 1  # three requests, one key, one payout
    shown = api.client(ADJUSTER).get(f"/v1/claims/{claim['id']}").json()
    assert (shown["status"], shown["paid_minor"], shown["reserves"]) == ("paid", 200_000, [])
    assert cash(api, insured) - before == -200_000
    (made,) = api.client(ADJUSTER).get(f"/v1/claims/{claim['id']}/payouts").json()
    assert made["status"] == "succeeded"
    assert made["processor_payout_id"].startswith("po_")


def test_while_the_processor_is_down_the_payout_waits_then_goes_through_once(
    api: ApiHarness, approved: tuple[InsuredFleet, Any]
) -> None:
    _, claim = approved
    assert request_payout(api, claim["id"]).status_code == 202
    processor = FakeProcessor(down=True)
    breaker = CircuitBreaker(threshold=2, cooldown_s=0.2)
    now = datetime.now(UTC)
    with payout_sender_to(processor, breaker) as send:
        assert tasks.pay_out_due(savepoints(api.session), send, now)["waiting"] == 1
        processor.down = False
        later = now + timedelta(hours=1)  # past the payout's next try
        assert tasks.pay_out_due(savepoints(api.session), send, later)["paid"] == 1
        assert tasks.pay_out_due(savepoints(api.session), send, later + timedelta(days=1)) == {
            "paid": 0,
            "failed": 0,
            "waiting": 0,
        }
    assert len(processor.charges) == 1
    shown = api.client(ADJUSTER).get(f"/v1/claims/{claim['id']}").json()
    assert (shown["status"], shown["paid_minor"]) == ("paid", 200_000)


def test_a_refused_payout_fails_and_the_claim_stays_approved_for_another(
    api: ApiHarness, approved: tuple[InsuredFleet, Any]
) -> None:
    _, claim = approved
    assert request_payout(api, claim["id"]).status_code == 202
    processor = FakeProcessor(script=["decline"])
    with payout_sender_to(processor, CircuitBreaker(threshold=5, cooldown_s=0.3)) as send:
        assert tasks.pay_out_due(savepoints(api.session), send, datetime.now(UTC))["failed"] == 1
    (failed,) = api.client(ADJUSTER).get(f"/v1/claims/{claim['id']}/payouts").json()
    assert (failed["status"], failed["failure_reason"]) == ("failed", "account_closed")
    shown = api.client(ADJUSTER).get(f"/v1/claims/{claim['id']}").json()
    assert (shown["status"], shown["paid_minor"]) == ("approved", 0)
    assert request_payout(api, claim["id"]).status_code == 202  # another account, another try


def test_only_an_approved_claim_with_something_payable_is_paid_out(api: ApiHarness) -> None:
    insured = insured_fleet(api)
    claim = (
        api.client(ADJUSTER)
        .post(
            "/v1/claims",
            json={
                "robot_id": str(insured.robots[0].id),
                "coverage": "breakdown",
                "loss_at": insured.term_start.isoformat(),
                "description": "Gearbox.",
            },
        )
        .json()
    )
    refused = request_payout(api, claim["id"])
    assert refused.status_code == 409
    assert "only an approved one" in refused.json()["detail"]
    holder = api.client(principal(Role.POLICYHOLDER, "alpha"))
    assert (
        holder.post(f"/v1/claims/{claim['id']}/payouts", json={"payee_token": "x"}).status_code
        == 403
    )
