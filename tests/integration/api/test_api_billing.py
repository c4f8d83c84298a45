"""/v1/invoices on the real database: a policy issued on a quarterly plan is asked for its
premium and tax in four invoices with lines per robot and coverage and the product's fee; bank
transfers settle them, never beyond what is open, once per Idempotency-Key; the ledger follows
(receivable, cash, fee revenue) and balances."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud_api.access.roles import Role
from cloud_api.billing import repository as billing_repository
from cloud_api.ledger import repository as ledger
from cloud_api.ledger.calendar import add_months
from cloud_api.policies import book, changes, service
from cloud_api.policies.schemas import EndorsementCreate
from database.models import Account, Product, Robot
from tests.integration.api.policy_factories import active_product, fleet, issue_at, plan_in_force
from tests.support.api import ApiHarness, principal

UNDERWRITER = principal(Role.UNDERWRITER)
BILLING = principal(Role.BILLING_AGENT)
TODAY = datetime.now(UTC).date()
FEE = 250


@pytest.fixture
def issued(api: ApiHarness) -> tuple[dict[str, Any], dict[str, Any], list[Robot]]:
    """A policy of three robots issued today on the quarterly plan, and its quote."""
    version = plan_in_force(api.session)
    product: Product = active_product(
        api.session, installment_fee_minor={"quarterly": FEE, "monthly": 100}
    )
    robots = fleet(api.session, api.tenant("alpha"), version, [1234.56, 987.65, None])
    client = api.client(UNDERWRITER)
    quote = client.post(
        "/v1/quotes",
        json={
            "tenant": "alpha",
            "product_id": str(product.id),
            "robot_ids": [str(r.id) for r in robots],
            "jurisdiction": "DE",
            "term_start": str(TODAY),
        },
    ).json()
    bound = client.post(f"/v1/quotes/{quote['id']}/bind", json={"installments": "quarterly"})
    assert bound.status_code == 201, bound.text
    policy = client.post(f"/v1/policies/{bound.json()['id']}/issue").json()
    assert policy["installments"] == "quarterly"
    return policy, quote, robots


def invoices_of(client: TestClient, policy_id: str) -> list[dict[str, Any]]:
    page = client.get("/v1/invoices", params={"policy_id": policy_id, "sort": "due_on"})
    assert page.status_code == 200, page.text
    return [client.get(f"/v1/invoices/{i['id']}").json() for i in page.json()["items"]]


def test_a_quarterly_policy_is_invoiced_in_four_installments_with_lines_per_robot(
    api: ApiHarness, issued: tuple[dict[str, Any], dict[str, Any], list[Robot]]
) -> None:
    policy, quote, robots = issued
    invoices = invoices_of(api.client(BILLING), policy["id"])
    assert [i["installment"] for i in invoices] == [1, 2, 3, 4]
    assert [date.fromisoformat(i["due_on"]) for i in invoices] == [
        add_months(TODAY, 3 * k) for k in range(4)
    ]
    assert sum(i["premium_minor"] for i in invoices) == quote["premium_minor"]
    assert sum(i["tax_minor"] for i in invoices) == quote["tax_minor"]
    for invoice in invoices:
        premium_lines = [x for x in invoice["lines"] if x["kind"] == "premium"]
        assert len(premium_lines) == len(quote["lines"]) == 6
        assert {x["robot_id"] for x in premium_lines} == {str(r.id) for r in robots}
        assert sum(x["amount_minor"] for x in premium_lines) == invoice["premium_minor"]
        assert [x["amount_minor"] for x in invoice["lines"] if x["kind"] == "fee"] == [FEE]
        assert invoice["total_minor"] == sum(x["amount_minor"] for x in invoice["lines"])
        assert invoice["status"] == "open"
    for line in quote["lines"]:  # each robot's and coverage's premium, over the four
        parts = [
            x["amount_minor"]
            for i in invoices
            for x in i["lines"]
            if x["robot_id"] == line["robot_id"] and x["coverage"] == line["coverage"]
        ]
        assert sum(parts) == line["premium_minor"]
        assert max(parts[1:]) <= parts[0] <= parts[1] + 3  # the remainder goes first
    balances = ledger.balances(api.session, policy_id=policy["id"])
    assert balances[(Account.INSTALLMENT_FEES, "EUR")] == -4 * FEE
    assert balances[(Account.PREMIUM_RECEIVABLE, "EUR")] == (
        quote["premium_minor"] + quote["tax_minor"] + 4 * FEE
    )


def test_bank_transfers_settle_an_invoice_once_and_never_beyond_what_is_open(
    api: ApiHarness, issued: tuple[dict[str, Any], dict[str, Any], list[Robot]]
) -> None:
    policy, quote, _ = issued
    client = api.client(BILLING)
    first = invoices_of(client, policy["id"])[0]
    url = f"/v1/invoices/{first['id']}/payments"
    part = first["total_minor"] // 3
    key = {"Idempotency-Key": "transfer-1"}
    paid = client.post(url, json={"amount_minor": part, "bank_reference": "SEPA 1"}, headers=key)
    assert paid.status_code == 201, paid.text
    replay = client.post(url, json={"amount_minor": part, "bank_reference": "SEPA 1"}, headers=key)
    assert replay.status_code == 201
    assert replay.json()["id"] == paid.json()["id"]
    rest = first["total_minor"] - part
    over = client.post(url, json={"amount_minor": rest + 1, "bank_reference": "SEPA 2"})
    assert over.status_code == 422
    settled = client.post(url, json={"amount_minor": rest, "bank_reference": "SEPA 2"})
    assert settled.status_code == 201
    invoice = client.get(f"/v1/invoices/{first['id']}").json()
    assert invoice["status"] == "paid"
    assert invoice["paid_minor"] == first["total_minor"]
    assert [p["amount_minor"] for p in invoice["payments"]] == [part, rest]
    again = client.post(url, json={"amount_minor": 1, "bank_reference": "SEPA 3"})
    assert again.status_code == 409
    balances = ledger.balances(api.session, policy_id=policy["id"])
    assert balances[(Account.CASH, "EUR")] == first["total_minor"]
    assert balances[(Account.PREMIUM_RECEIVABLE, "EUR")] == (
        quote["premium_minor"] + quote["tax_minor"] + 4 * FEE - first["total_minor"]
    )
    fractional = client.post(url, json={"amount_minor": 1.5, "bank_reference": "x"})
    assert fractional.status_code == 422


def test_invoices_are_the_tenants_own(
    api: ApiHarness, issued: tuple[dict[str, Any], dict[str, Any], list[Robot]]
) -> None:
    policy, _, _ = issued
    invoice = invoices_of(api.client(BILLING), policy["id"])[0]
    api.tenant("beta")
    outsider = api.client(principal(Role.POLICYHOLDER, "beta"))
    assert outsider.get(f"/v1/invoices/{invoice['id']}").status_code == 404
    assert outsider.get("/v1/invoices").json()["items"] == []
    holder = api.client(principal(Role.POLICYHOLDER, "alpha"))
    assert holder.get(f"/v1/invoices/{invoice['id']}").status_code == 200
    pay = {"amount_minor": 1, "bank_reference": "self"}
    assert holder.post(f"/v1/invoices/{invoice['id']}/payments", json=pay).status_code == 403


def test_an_overdue_invoice_is_reminded_weekly_and_lapses_the_policy_after_the_grace_days(
    api: ApiHarness,
) -> None:
    late = issue_at(api, TODAY - timedelta(days=31))  # its first installment: 31 days overdue
    recent = issue_at(api, TODAY - timedelta(days=10))  # 10 days overdue, within grace
    now = datetime.now(UTC)
    assert book.collect_overdue(api.session, now, 100) == (2, 1)
    assert book.collect_overdue(api.session, now, 100) == (0, 0)  # once a day
    assert late.status == "lapsed"
    assert recent.status == "in_force"
    lapse = service.current(api.session, late)
    assert lapse.reason_code == "non_payment"
    assert lapse.effective_from.date() == TODAY
    reminded = {
        i.policy_id: i.reminders_sent
        for i in billing_repository.overdue(api.session, now + timedelta(days=1), 10)
    }
    assert reminded == {recent.id: 1}  # the lapsed policy's invoices are no longer chased
    a_week_later = now + timedelta(days=7)
    assert book.collect_overdue(api.session, a_week_later, 100) == (1, 0)
    assert book.collect_overdue(api.session, now + timedelta(days=21), 100) == (1, 1)
    assert recent.status == "lapsed"


def test_changes_of_premium_are_invoiced_or_voided_and_an_overpayment_is_a_credit_note(
    api: ApiHarness, issued: tuple[dict[str, Any], dict[str, Any], list[Robot]]
) -> None:
    policy, _, robots = issued
    agent = api.client(BILLING)
    first = invoices_of(agent, policy["id"])[0]
    paid = agent.post(
        f"/v1/invoices/{first['id']}/payments",
        json={"amount_minor": first["total_minor"], "bank_reference": "SEPA Q1"},
    )
    assert paid.status_code == 201
    underwriter = api.client(UNDERWRITER)
    more = underwriter.post(
        f"/v1/policies/{policy['id']}/endorsements",
        json={
            "effective_on": str(TODAY),
            "add_robots": [],
            "coverage_changes": [],
            "remove_robots": [str(robots[2].id)],
        },
    )
    assert more.status_code == 200, more.text
    returned = -more.json()["current"]["premium_change_minor"]
    assert returned > 0
    cancelled = underwriter.post(
        f"/v1/policies/{policy['id']}/cancel",
        json={"effective_on": str(TODAY), "reason_code": "fleet_sold", "requested_by": "insurer"},
    )
    assert cancelled.status_code == 200, cancelled.text
    invoices = invoices_of(api.client(BILLING), policy["id"])  # the harness acts as one
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for invoice in invoices:
        by_kind.setdefault(invoice["kind"], []).append(invoice)
    installments = {i["installment"]: i["status"] for i in by_kind["installment"]}
    assert installments == {1: "paid", 2: "void", 3: "void", 4: "void"}
    written = ledger.balances(api.session, policy_id=policy["id"])
    written_premium = -written[(Account.WRITTEN_PREMIUM, "EUR")]
    live = [i for i in invoices if i["status"] != "void"]
    assert sum(i["premium_minor"] for i in live) == written_premium == 0  # cancelled from day 0
    credits = sum(i["total_minor"] for i in by_kind["credit"])
    assert credits == -(first["premium_minor"] + first["tax_minor"])  # what Q1 paid for
    assert {i["status"] for i in by_kind["credit"]} == {"open"}  # owed until refunded
    assert written[(Account.REFUNDS_PAYABLE, "EUR")] == credits
    assert written[(Account.INSTALLMENT_FEES, "EUR")] == -FEE  # the voided fees reversed
    assert written[(Account.CASH, "EUR")] == first["total_minor"]
    refunder = api.client(BILLING)
    note = by_kind["credit"][0]
    wrong = refunder.post(
        f"/v1/invoices/{note['id']}/refunds",
        json={"amount_minor": -note["total_minor"] + 1, "bank_reference": "REFUND 1"},
    )
    assert wrong.status_code == 422
    installment = refunder.post(
        f"/v1/invoices/{first['id']}/refunds", json={"amount_minor": 1, "bank_reference": "x"}
    )
    assert installment.status_code == 409
    for credit in by_kind["credit"]:
        paid_out = refunder.post(
            f"/v1/invoices/{credit['id']}/refunds",
            json={"amount_minor": -credit["total_minor"], "bank_reference": "REFUND"},
        )
        assert paid_out.status_code == 201, paid_out.text
        assert paid_out.json()["method"] == "refund"
    after = ledger.balances(api.session, policy_id=policy["id"])
    assert after.get((Account.REFUNDS_PAYABLE, "EUR"), 0) == 0
    assert after[(Account.CASH, "EUR")] == first["total_minor"] + credits


def test_one_policy_that_cannot_lapse_today_does_not_stop_the_others(api: ApiHarness) -> None:
    stuck = issue_at(api, TODAY - timedelta(days=31))
    late = issue_at(api, TODAY - timedelta(days=31))
    body = EndorsementCreate(
        effective_on=TODAY + timedelta(days=10), coverage_changes=[{"coverage": "breakdown"}]
    )
    changes.endorse(api.session, UNDERWRITER, stuck.id, body, datetime.now(UTC))
    assert book.collect_overdue(api.session, datetime.now(UTC), 100) == (1, 1)
    assert late.status == "lapsed"
    assert stuck.status == "in_force"  # its change from next week: refused, logged, left
