"""Card payments through the processor: asked for by a billing agent (pending), charged by the
job outside any transaction, settled by the processor's answer or its webhook, whichever comes
first, and only once.

* ``start_card_payment`` records a pending payment of what is open on the invoice; the request
  commits it and no network call is made in the request.
* ``claim_due`` (the job) takes the pending card payments due for an attempt, with SKIP LOCKED,
  counts the attempt and moves their next attempt later (backoff), and commits: a job that dies
  after this leaves them for a later run.
* ``apply_charge`` settles a payment from a charge or a webhook event: a payment that is no
  longer pending is left as it is (a duplicate answer or webhook changes nothing), and an event
  whose amount or currency differs from the payment's is refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal
from cloud_api.billing import repository
from cloud_api.billing.processor import Charge
from cloud_api.billing.schemas import CardPaymentCreate
from cloud_api.billing.service import InvoiceNotFoundError, audit_payment, settle
from cloud_api.billing.webhooks import ChargeEvent, WebhookEvent
from cloud_api.errors import ConflictError, UnprocessableError
from cloud_api.notifications import service as notifications
from cloud_api.notifications.schemas import EventType
from database.models import InvoiceStatus, Payment, PaymentStatus, ProcessorEvent

MAX_BACKOFF = timedelta(hours=1)
INVOICE_NOT_OPEN = "the invoice is no longer open"


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 30 s, doubling, at most an hour."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def start_card_payment(
    session: Session,
    principal: Principal,
    invoice_id: uuid.UUID,
    body: CardPaymentCreate,
    now: datetime,
) -> Payment:
    invoice = repository.invoice(session, invoice_id, tenant_scope(principal), for_update=True)
    if invoice is None:
        raise InvoiceNotFoundError(f"no invoice {invoice_id}")
    if invoice.status != InvoiceStatus.OPEN:
        raise ConflictError(f"the invoice is {invoice.status}: nothing is open on it")
    if repository.pending_payment(session, invoice.id) is not None:
        raise ConflictError("a payment of this invoice is already under way")
    payment = Payment(
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        amount_minor=invoice.total_minor - invoice.paid_minor,
        currency=invoice.currency,
        method="card",
        status=PaymentStatus.PENDING.value,
        card_token=body.card_token,
        recorded_by=str(principal.id),
        created_at=now,
        next_attempt_at=now,
    )
    session.add(payment)
    session.flush()
    audit_payment(session, principal, payment, invoice)
    return payment


def claim_due(session: Session, now: datetime, limit: int) -> list[Payment]:
    """The card payments to charge now; one whose invoice is no longer open (voided since)
    fails here, before any charge."""
    due = []
    for payment in repository.card_payments_due(session, now, limit):
        invoice = repository.invoice(session, payment.invoice_id, None, for_update=True)
        if invoice is None or invoice.status != InvoiceStatus.OPEN:
            fail(payment, INVOICE_NOT_OPEN, now)
            continue
        payment.attempts += 1
        payment.next_attempt_at = now + backoff(payment.attempts)
        due.append(payment)
    session.flush()
    return due


def fail(payment: Payment, reason: str, now: datetime) -> None:
    payment.status = PaymentStatus.FAILED.value
    payment.failure_reason = reason
    payment.settled_at = now


def failed(session: Session, payment: Payment, reason: str, now: datetime) -> None:
    """The payment failed at the processor: recorded, and the policyholder told."""
    fail(payment, reason, now)
    session.flush()
    invoice = repository.invoice(session, payment.invoice_id, None)
    notifications.notify(
        session,
        tenant_id=payment.tenant_id,
        event=EventType.PAYMENT_FAILED,
        subject=("payment", payment.id),
        payload={
            "invoice": None if invoice is None else invoice.number,
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "reason": reason,
        },
        now=now,
    )


def apply_charge(
    session: Session, payment_id: uuid.UUID, charge: Charge | ChargeEvent, now: datetime
) -> bool:
    """Settle (or fail) the payment from the processor's word; False if nothing changed."""
    payment = repository.payment(session, payment_id, for_update=True)
    if payment is None or payment.status != PaymentStatus.PENDING:
        return False
    if isinstance(charge, ChargeEvent) and (
        charge.amount_minor != payment.amount_minor or charge.currency != payment.currency
    ):
        raise UnprocessableError(
            f"the processor's charge {charge.id} is {charge.amount_minor} {charge.currency}, "
            f"the payment {payment.amount_minor} {payment.currency}"
        )
    payment.processor_charge_id = charge.id
    if charge.status == "succeeded":
        invoice = repository.invoice(session, payment.invoice_id, None, for_update=True)
        assert invoice is not None  # noqa: S101 - the payment's invoice exists (foreign key)
        return settle(session, payment, invoice, now)
    if charge.status == "failed":
        failed(session, payment, charge.failure_reason or "declined", now)
        return True
    return False  # pending: the webhook or the next attempt will tell


def receive_webhook(session: Session, event: WebhookEvent, now: datetime) -> str:
    """Apply a verified webhook once: ``applied``, ``duplicate`` (its id was seen) or
    ``unchanged`` (the payment was settled already, or is not ours)."""
    if not repository.remember_event(
        session, ProcessorEvent(event_id=event.id, kind=event.type, charge_id=event.charge.id)
    ):
        return "duplicate"
    try:
        payment_id = uuid.UUID(event.charge.reference)
    except ValueError:
        return "unchanged"
    return "applied" if apply_charge(session, payment_id, event.charge, now) else "unchanged"


def refuse(session: Session, payment_id: uuid.UUID, reason: str, now: datetime) -> None:
    """The processor refused the charge (not a decline: a request it will not take): the
    payment fails with the reason, and a new one may be asked for."""
    payment = repository.payment(session, payment_id, for_update=True)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        failed(session, payment, reason[:200], now)
