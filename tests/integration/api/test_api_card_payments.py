"""Card payments against a local fake processor speaking its protocol over HTTP: each failure
mode is its own test. Timeouts and 5xx are retried with the same Idempotency-Key (one charge);
a decline fails the payment; a webhook is applied once, even when it comes before the charge's
answer or twice; a forged or stale webhook changes nothing; while the processor is down the
circuit opens, payments wait pending, and go through once it is back, once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cloud_api.access.roles import Role
from cloud_api.billing import tasks
from cloud_api.billing.processor import ProcessorClient
from cloud_api.ledger import repository as ledger
from database.models import Account, LedgerEntry
from ingest.connectors.breaker import BreakerState, CircuitBreaker
from tests.integration.api.conftest import WEBHOOK_SECRET
from tests.integration.api.policy_factories import active_product, fleet, plan_in_force
from tests.support.api import ApiHarness, principal, savepoints
from tests.support.fake_processor import API_KEY, FakeProcessor, serve_processor, webhook

UNDERWRITER = principal(Role.UNDERWRITER)
BILLING = principal(Role.BILLING_AGENT)
TODAY = datetime.now(UTC).date()
WEBHOOK = "/v1/webhooks/payment-processor"


@pytest.fixture
def payment(api: ApiHarness) -> dict[str, Any]:
    """A pending card payment of the first invoice of a policy issued today."""
    version = plan_in_force(api.session)
    product = active_product(api.session)
    robots = fleet(api.session, api.tenant("alpha"), version, [1500.0])
    client = api.client(UNDERWRITER)
    quote = client.post(
        "/v1/quotes",
        json={
            "tenant": "alpha",
            "product_id": str(product.id),
            "robot_ids": [str(robots[0].id)],
            "jurisdiction": "DE",
            "term_start": str(TODAY),
        },
    ).json()
    bound = client.post(f"/v1/quotes/{quote['id']}/bind").json()
    client.post(f"/v1/policies/{bound['id']}/issue")
    billing = api.client(BILLING)
    invoice = billing.get("/v1/invoices", params={"policy_id": bound["id"]}).json()["items"][0]
    started = billing.post(
        f"/v1/invoices/{invoice['id']}/card-payments", json={"card_token": "tok_visa_4242"}
    )
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "pending"
    twice = billing.post(
        f"/v1/invoices/{invoice['id']}/card-payments", json={"card_token": "tok_visa_4242"}
    )
    assert twice.status_code == 409
    transfer = billing.post(
        f"/v1/invoices/{invoice['id']}/payments",
        json={"amount_minor": invoice["total_minor"], "bank_reference": "SEPA while card"},
    )
    assert transfer.status_code == 409  # never both: the card charge may already be taken
    return {**started.json(), "policy_id": bound["id"]}


@contextlib.contextmanager
def processor_client(
    processor: FakeProcessor, breaker: CircuitBreaker | None = None, timeout: float = 0.5
) -> Iterator[ProcessorClient]:
    with serve_processor(processor) as url, httpx.Client(timeout=timeout) as http:
        yield ProcessorClient(
            http,
            url,
            SecretStr(API_KEY),
            breaker or CircuitBreaker(threshold=3, cooldown_s=0.3),
            attempts=3,
            max_wait_s=0.05,
        )


def settled_once(api: ApiHarness, payment: dict[str, Any]) -> dict[str, Any]:
    invoice: dict[str, Any] = (
        api.client(BILLING).get(f"/v1/invoices/{payment['invoice_id']}").json()
    )
    entries = (
        api.session.query(LedgerEntry).filter(LedgerEntry.reference == f"payment:{payment['id']}")
    ).count()
    assert entries == 1
    balances = ledger.balances(api.session, policy_id=payment["policy_id"])
    assert balances[(Account.CASH, "EUR")] == payment["amount_minor"]
    return invoice


def test_a_timeout_then_a_5xx_are_retried_and_the_card_is_charged_once(
    api: ApiHarness, payment: dict[str, Any]
) -> None:
    processor = FakeProcessor(script=["timeout", "500", "ok"], delay_s=1.0)
    with processor_client(processor) as client:
        counts = tasks.charge_due(savepoints(api.session), client, datetime.now(UTC))
    assert counts == {"settled": 1, "waiting": 0, "refused": 0}
    assert processor.requests == 3
    assert len(processor.charges) == 1  # three requests, one key, one charge
    invoice = settled_once(api, payment)
    assert invoice["status"] == "paid"
    assert invoice["payments"][0]["status"] == "succeeded"
    later = datetime.now(UTC) + timedelta(days=1)
    with processor_client(processor) as client:
        assert tasks.charge_due(savepoints(api.session), client, later)["settled"] == 0


def test_a_declined_card_fails_the_payment_and_leaves_the_invoice_open(
    api: ApiHarness, payment: dict[str, Any]
) -> None:
    with processor_client(FakeProcessor(script=["decline"])) as client:
        tasks.charge_due(savepoints(api.session), client, datetime.now(UTC))
    invoice = api.client(BILLING).get(f"/v1/invoices/{payment['invoice_id']}").json()
    assert invoice["status"] == "open"
    assert invoice["payments"][0]["status"] == "failed"
    assert invoice["payments"][0]["failure_reason"] == "card_declined"
    balances = ledger.balances(api.session, policy_id=payment["policy_id"])
    assert (Account.CASH, "EUR") not in balances


def test_a_webhook_before_the_answer_and_a_duplicate_settle_the_payment_once(
    api: ApiHarness, payment: dict[str, Any]
) -> None:
    hook = api.client()
    delivered: list[dict[str, Any]] = []

    def send_webhook_first(charge: dict[str, Any]) -> None:
        body, headers = webhook(WEBHOOK_SECRET, charge, event_id="evt_first")
        answer = hook.post(WEBHOOK, content=body, headers=headers)
        delivered.append({"status": answer.status_code, **answer.json()})

    processor = FakeProcessor(before_answer=send_webhook_first)
    with processor_client(processor, timeout=5.0) as client:
        counts = tasks.charge_due(savepoints(api.session), client, datetime.now(UTC))
    assert delivered == [{"status": 200, "outcome": "applied"}]
    assert counts["settled"] == 0  # the answer found it settled by the webhook
    (charge,) = processor.charges.values()
    body, headers = webhook(WEBHOOK_SECRET, charge, event_id="evt_first")
    assert hook.post(WEBHOOK, content=body, headers=headers).json() == {"outcome": "duplicate"}
    body, headers = webhook(WEBHOOK_SECRET, charge, event_id="evt_retold")
    assert hook.post(WEBHOOK, content=body, headers=headers).json() == {"outcome": "unchanged"}
    assert settled_once(api, payment)["status"] == "paid"


def test_a_forged_or_stale_webhook_is_refused_and_changes_nothing(
    api: ApiHarness, payment: dict[str, Any]
) -> None:
    charge = {
        "id": "ch_forged",
        "reference": payment["id"],
        "amount_minor": payment["amount_minor"],
        "currency": "EUR",
        "status": "succeeded",
        "failure_reason": None,
    }
    hook = api.client()
    body, _ = webhook(WEBHOOK_SECRET, charge)
    forged = webhook("whsec_not_the_secret_at_all", charge)[1]
    assert hook.post(WEBHOOK, content=body, headers=forged).status_code == 400
    stale_body, stale = webhook(WEBHOOK_SECRET, charge, at=time.time() - 3600)
    refused = hook.post(WEBHOOK, content=stale_body, headers=stale)
    assert refused.status_code == 400
    assert "timestamp" in refused.json()["detail"]
    tampered = body.replace(b'"succeeded"', b'"failed"', 1)
    _, signed_for_body = webhook(WEBHOOK_SECRET, charge)
    assert hook.post(WEBHOOK, content=tampered, headers=signed_for_body).status_code == 400
    assert hook.post(WEBHOOK, content=body).status_code == 400  # unsigned
    cheaper = {**charge, "amount_minor": 1}
    body, headers = webhook(WEBHOOK_SECRET, cheaper)
    assert hook.post(WEBHOOK, content=body, headers=headers).status_code == 422
    invoice = api.client(BILLING).get(f"/v1/invoices/{payment['invoice_id']}").json()
    assert invoice["payments"][0]["status"] == "pending"
    assert invoice["paid_minor"] == 0


def test_while_the_processor_is_down_payments_wait_and_go_through_once_it_returns(
    api: ApiHarness, payment: dict[str, Any]
) -> None:
    processor = FakeProcessor(down=True)
    breaker = CircuitBreaker(threshold=2, cooldown_s=0.3)
    now = datetime.now(UTC)
    with processor_client(processor, breaker) as client:
        for run in range(4):  # each run a minute later than the payment's backoff
            at = now + timedelta(hours=run)
            assert tasks.charge_due(savepoints(api.session), client, at)["waiting"] == 1
        assert breaker.state is BreakerState.OPEN
        calls_while_open = processor.requests
        tasks.charge_due(savepoints(api.session), client, now + timedelta(hours=5))
        assert processor.requests == calls_while_open  # refused without a call
        processor.down = False
        time.sleep(0.35)  # the cooldown: one trial call may go
        counts = tasks.charge_due(savepoints(api.session), client, now + timedelta(hours=6))
        assert counts["settled"] == 1
        assert breaker.state.value == BreakerState.CLOSED.value
    assert len(processor.charges) == 1
    invoice = settled_once(api, payment)
    assert invoice["payments"][0]["status"] == "succeeded"


@pytest.mark.parametrize(
    "header",
    [
        "t=99999999999999999999999999999,v1=" + "0" * 64,  # a timestamp past any clock
        "t=1700000000,v1=" + "\u00e9" * 64,  # not hex (latin-1 as Starlette decodes)
        "t=1700000000,v1=abc,v1=",
        "v1=" + "0" * 64,
        "t==,=v1",
    ],
)
def test_a_malformed_signature_header_is_a_400_not_a_crash(
    api: ApiHarness, payment: dict[str, Any], header: str
) -> None:
    answer = api.client().post(
        WEBHOOK, content=b"{}", headers={"Processor-Signature": header.encode("latin-1")}
    )
    assert answer.status_code == 400
    assert "malformed" in answer.json()["detail"]
