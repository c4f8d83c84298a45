"""robocover_payments_failed_total counts real failed payments, read from the database: a card
declined to the charge job, a request the processor refused, a failure the processor told by
webhook to the API (another process than the job's), and an invoice voided before its charge,
each under its reason; a succeeded payment is not counted."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from cloud_api.access.roles import Role
from cloud_api.billing import tasks
from cloud_api.billing.metrics import KINDS, FailedPayments
from cloud_api.billing.processor import ProcessorClient
from database.models import Invoice
from ingest.connectors.breaker import CircuitBreaker
from tests.integration.api.conftest import WEBHOOK_SECRET
from tests.integration.api.policy_factories import active_product, fleet, plan_in_force
from tests.support.api import ApiHarness, principal, savepoints
from tests.support.fake_processor import API_KEY, FakeProcessor, serve_processor, webhook

UNDERWRITER = principal(Role.UNDERWRITER)
BILLING = principal(Role.BILLING_AGENT)


def card_payment(api: ApiHarness) -> dict[str, Any]:
    """A pending card payment of the first invoice of a new policy, as a billing agent asks."""
    version = plan_in_force(api.session)
    product = active_product(api.session)
    (robot,) = fleet(api.session, api.tenant("alpha"), version, [1500.0])
    client = api.client(UNDERWRITER)
    offer = {
        "tenant": "alpha",
        "product_id": str(product.id),
        "robot_ids": [str(robot.id)],
        "jurisdiction": "DE",
        "term_start": str(datetime.now(UTC).date()),
    }
    quote = client.post("/v1/quotes", json=offer).json()
    policy = client.post(f"/v1/quotes/{quote['id']}/bind").json()
    assert client.post(f"/v1/policies/{policy['id']}/issue").status_code == 200
    billing = api.client(BILLING)
    invoice = billing.get("/v1/invoices", params={"policy_id": policy["id"]}).json()["items"][0]
    started = billing.post(
        f"/v1/invoices/{invoice['id']}/card-payments", json={"card_token": "tok_visa_4242"}
    )
    assert started.status_code == 201, started.text
    payment: dict[str, Any] = started.json()
    return payment


@contextlib.contextmanager
def processor(script: list[str], api_key: str = API_KEY) -> Iterator[ProcessorClient]:
    with serve_processor(FakeProcessor(script=script)) as url, httpx.Client(timeout=5) as http:
        breaker = CircuitBreaker(threshold=3, cooldown_s=0.3)
        yield ProcessorClient(http, url, SecretStr(api_key), breaker, attempts=2, max_wait_s=0.05)


def charge_due(api: ApiHarness, script: list[str], api_key: str = API_KEY) -> dict[str, int]:
    with processor(script, api_key) as client:
        return tasks.charge_due(savepoints(api.session), client, datetime.now(UTC))


def failed_by_reason(api: ApiHarness) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(FailedPayments(savepoints(api.session)))
    assert registry.get_sample_value("robocover_payments_database_up") == 1
    values = {
        kind: registry.get_sample_value("robocover_payments_failed_total", {"reason": kind})
        for kind in KINDS
    }
    assert all(value is not None for value in values.values()), values
    return {kind: float(value or 0) for kind, value in values.items()}


def test_each_failed_payment_is_counted_once_under_its_reason(api: ApiHarness) -> None:
    assert failed_by_reason(api) == dict.fromkeys(KINDS, 0.0)  # every reason, from 0

    card_payment(api)
    assert charge_due(api, ["decline"]) == {"settled": 1, "waiting": 0, "refused": 0}
    assert failed_by_reason(api) == {**dict.fromkeys(KINDS, 0.0), "declined": 1.0}

    card_payment(api)  # the processor refuses a request made with a wrong key: a 401
    assert charge_due(api, [], api_key="sk_test_not_our_key_at_all")["refused"] == 1
    assert failed_by_reason(api)["refused"] == 1

    told = card_payment(api)  # the processor's webhook, to the API, says it failed
    charge = {
        "id": "ch_told_by_webhook",
        "reference": told["id"],
        "amount_minor": told["amount_minor"],
        "currency": told["currency"],
        "status": "failed",
        "failure_reason": "insufficient_funds",
    }
    body, headers = webhook(WEBHOOK_SECRET, charge)
    answer = api.client().post("/v1/webhooks/payment-processor", content=body, headers=headers)
    assert answer.json() == {"outcome": "applied"}
    assert failed_by_reason(api)["declined"] == 2

    voided = card_payment(api)  # voided before the job charges it
    invoice = api.session.get(Invoice, voided["invoice_id"])
    assert invoice is not None
    invoice.status = "void"
    api.session.flush()
    charge_due(api, [])
    card_payment(api)  # and one that goes through
    assert charge_due(api, ["ok"])["settled"] == 1

    assert failed_by_reason(api) == {
        "declined": 2.0,
        "refused": 1.0,
        "invoice_not_open": 1.0,
        "other": 0.0,
    }
