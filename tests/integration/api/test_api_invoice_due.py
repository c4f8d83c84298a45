"""The invoice_due notice on the real database: each open invoice of a policy in force is told
to its tenant once, ahead of its due date by the notice days; paid, overdue, far-off, voided
and credit invoices are not; the job's batches are transactions of their own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from cloud_api.access.roles import Role
from cloud_api.billing import service as billing
from cloud_api.billing import tasks as billing_tasks
from cloud_api.notifications.delivery import Outgoing, email_of
from cloud_api.notifications.schemas import EventType
from database.models import Invoice, Notification
from tests.integration.api.policy_factories import issue_at
from tests.support.api import ApiHarness, principal, savepoints

UNDERWRITER = principal(Role.UNDERWRITER)
BILLING = principal(Role.BILLING_AGENT)
TODAY = datetime.now(UTC).date()


def invoices(api: ApiHarness, policy: Any) -> list[Invoice]:
    return list(
        api.session.scalars(
            select(Invoice).where(Invoice.policy_id == policy.id).order_by(Invoice.due_on)
        )
    )


def told(api: ApiHarness) -> list[dict[str, Any]]:
    rows = api.session.scalars(
        select(Notification)
        .where(Notification.event_type == EventType.INVOICE_DUE.value)
        .order_by(Notification.created_at)
    )
    return [row.payload for row in rows]


def test_an_invoice_falling_due_is_told_once_and_only_while_it_asks_for_money(
    api: ApiHarness,
) -> None:
    policy = issue_at(api, TODAY - timedelta(days=25), "monthly")
    first, second, third = invoices(api, policy)[:3]
    assert first.due_on < TODAY <= second.due_on <= TODAY + timedelta(days=7) < third.due_on
    now = datetime.now(UTC)
    assert billing.tell_due(api.session, now, 7, 100) == 1
    assert billing.tell_due(api.session, now, 7, 100) == 0  # once per invoice
    (payload,) = told(api)
    assert payload["number"] == second.number
    assert payload["policy"] == policy.number
    assert payload["due_on"] == second.due_on.isoformat()
    assert payload["days_left"] == (second.due_on - TODAY).days
    assert payload["open_minor"] == second.total_minor > 0
    assert second.due_notice_at == now
    assert first.due_notice_at is None  # overdue: the dunning job's, not this one's
    # The third is told when it comes within the notice days, unless it is paid by then.
    assert billing.tell_due(api.session, now + timedelta(days=30), 7, 100) == 1
    assert [notice["number"] for notice in told(api)] == [second.number, third.number]


def test_paid_invoices_and_policies_not_in_force_are_not_told(api: ApiHarness) -> None:
    paid = issue_at(api, TODAY - timedelta(days=25), "monthly")
    due = invoices(api, paid)[1]
    agent = api.client(BILLING)
    transfer = {"amount_minor": due.total_minor, "bank_reference": "SEPA early"}
    assert agent.post(f"/v1/invoices/{due.id}/payments", json=transfer).status_code == 201
    cancelled = issue_at(api, TODAY - timedelta(days=25), "monthly", tenant="beta")
    cancelled.status = "cancelled"
    api.session.flush()
    assert billing.tell_due(api.session, datetime.now(UTC), 7, 100) == 0
    assert told(api) == []


def test_the_job_tells_every_tenant_in_batches_and_the_email_reads_the_due_date(
    api: ApiHarness,
) -> None:
    policies = [issue_at(api, TODAY - timedelta(days=25), "monthly", t) for t in ("alpha", "beta")]
    now = datetime.now(UTC)
    assert billing_tasks.tell_invoices_due(savepoints(api.session), now, 7, batch=1) == 2
    assert billing_tasks.tell_invoices_due(savepoints(api.session), now, 7, batch=1) == 0
    numbers = sorted(p["number"] for p in told(api))
    assert numbers == sorted(invoices(api, p)[1].number for p in policies)
    notification = api.session.scalars(
        select(Notification)
        .where(Notification.event_type == EventType.INVOICE_DUE.value)
        .order_by(Notification.created_at)
    ).first()
    assert notification is not None
    out = Outgoing(
        delivery_id=uuid.uuid4(),
        channel="email",
        recipient="owner@alpha.example",
        secret=None,
        event_type=notification.event_type,
        body=b"{}",
        payload=notification.payload,
    )
    message = email_of(out, "robocover@localhost")
    assert message["Subject"] == (
        f"Invoice {notification.payload['number']} is due on {notification.payload['due_on']}"
    )
