"""Billing: a policy's installment invoices when it is issued, and payments against them.

Rules (services never commit; the request or the job owns the transaction):
* Issuing a policy writes its premium and tax to the receivable (the ledger, at issue); the
  invoices ask for it by installment: lines per robot and coverage, a tax line, the plan's fee
  (written to the receivable and to installment fee revenue when the invoice is made).
* A payment settles an invoice up to what is still open on it, never more; its amount moves
  from the receivable to cash. An invoice paid in full is ``paid``.
* Each invoice and each posting has a unique reference: made twice, it is made once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.billing import adjustments, repository
from cloud_api.billing.installments import installment_invoices
from cloud_api.billing.invoicing import issue_invoice
from cloud_api.billing.schemas import BankTransferCreate
from cloud_api.conventions import ListQuery, Page, paginate
from cloud_api.errors import ConflictError, NotFoundError, UnprocessableError
from cloud_api.ledger import postings
from cloud_api.ledger import service as ledger
from cloud_api.notifications import service as notifications
from cloud_api.notifications.schemas import EventType
from database.models import (
    Account,
    InstallmentPlan,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Policy,
)


class InvoiceNotFoundError(NotFoundError):
    pass


def list_page(session: Session, principal: Principal, query: ListQuery) -> Page[Invoice]:
    statement = repository.readable(repository.invoices(), Invoice, tenant_scope(principal))
    return paginate(session, statement, query)


def get(session: Session, principal: Principal, invoice_id: uuid.UUID) -> Invoice:
    invoice = repository.invoice(session, invoice_id, tenant_scope(principal))
    if invoice is None:
        raise InvoiceNotFoundError(f"no invoice {invoice_id}")
    return invoice


def detail(session: Session, invoice: Invoice) -> dict[str, Any]:
    return {
        "lines": repository.lines(session, invoice.id),
        "payments": repository.payments_of(session, invoice.id),
    }


def invoice_installments(
    session: Session,
    policy: Policy,
    schedule: list[dict[str, Any]],
    tax_minor: int,
    *,
    fee_minor: int,
    term_months: int,
    now: datetime,
) -> list[Invoice]:
    """The installment invoices of a policy just issued (made once: a second call finds them)."""
    if repository.invoices_of_policy(session, policy.id):
        return []
    lines = [(uuid.UUID(x["robot_id"]), x["coverage"], x["premium_minor"]) for x in schedule]
    drafts = installment_invoices(
        lines,
        tax_minor,
        InstallmentPlan(policy.installments),
        fee_minor=fee_minor,
        term_start=policy.term_start.date(),
        term_months=term_months,
    )
    return [
        issue_invoice(
            session,
            policy,
            draft,
            now,
            kind="installment",
            reference=f"policy:{policy.id}:installment:{draft.installment}",
        )
        for draft in drafts
    ]


def record_bank_transfer(
    session: Session,
    principal: Principal,
    invoice_id: uuid.UUID,
    body: BankTransferCreate,
    now: datetime,
) -> Payment:
    """A bank transfer received for an invoice: settled at once (the money is in)."""
    invoice = repository.invoice(session, invoice_id, tenant_scope(principal), for_update=True)
    if invoice is None:
        raise InvoiceNotFoundError(f"no invoice {invoice_id}")
    if invoice.status != InvoiceStatus.OPEN:
        raise ConflictError(f"the invoice is {invoice.status}: nothing is open on it")
    if repository.pending_payment(session, invoice.id) is not None:
        raise ConflictError("a card payment of this invoice is under way: wait for its outcome")
    open_minor = invoice.total_minor - invoice.paid_minor
    if body.amount_minor > open_minor:
        raise UnprocessableError(
            f"{body.amount_minor} is more than the {open_minor} still open on the invoice"
        )
    payment = Payment(
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        amount_minor=body.amount_minor,
        currency=invoice.currency,
        method="bank_transfer",
        status=PaymentStatus.PENDING.value,
        bank_reference=body.bank_reference,
        recorded_by=str(principal.id),
        created_at=now,
    )
    session.add(payment)
    session.flush()
    settle(session, payment, invoice, now)
    audit_payment(session, principal, payment, invoice)
    return payment


def audit_payment(
    session: Session, principal: Principal, payment: Payment, invoice: Invoice
) -> None:
    audit.record(
        session,
        principal,
        Action.PAYMENTS_RECORD,
        target_type="payment",
        target_id=payment.id,
        tenant_id=invoice.tenant_id,
        detail={
            "invoice": invoice.number,
            "amount_minor": payment.amount_minor,
            "method": payment.method,
        },
    )


def settle(session: Session, payment: Payment, invoice: Invoice, now: datetime) -> bool:
    """A pending payment succeeded: receivable to cash, the invoice's paid amount. False if it
    was settled already (a duplicate webhook or answer changes nothing)."""
    if payment.status != PaymentStatus.PENDING:
        return False
    payment.status = PaymentStatus.SUCCEEDED.value
    payment.settled_at = now
    invoice.paid_minor += payment.amount_minor
    if invoice.paid_minor >= invoice.total_minor:
        invoice.status = InvoiceStatus.PAID.value
    header = postings.EntryHeader(
        invoice.tenant_id, invoice.policy_id, f"payment:{payment.id}", now.date(), invoice.currency
    )
    ledger.post(
        session,
        postings.entry(
            header,
            "payment_received",
            f"payment of invoice {invoice.number}",
            [
                (Account.CASH, payment.amount_minor),
                (Account.PREMIUM_RECEIVABLE, -payment.amount_minor),
            ],
        ),
    )
    session.flush()
    return True


REMINDER_EVERY_DAYS = 7
MAX_REMINDERS = 3


def rebill(
    session: Session,
    policy: Policy,
    written_premium: int,
    written_tax: int,
    now: datetime,
    *,
    reference: str,
) -> list[Invoice]:
    """Bring the policy's invoices to the premium and tax it wrote (``adjustments``)."""
    return adjustments.rebill(
        session, policy, written_premium, written_tax, now, reference=reference
    )


def overdue_invoices(session: Session, now: datetime, limit: int) -> list[Invoice]:
    """Open invoices past due of policies in force whose term is not over, locked (another
    run's are skipped)."""
    return repository.overdue(session, now, limit)


def remind(session: Session, invoice: Invoice, today: date) -> bool:
    """Dunning: a reminder every 7 days an invoice is overdue, three at most; recorded on the
    invoice and in the audit trail (sent to the policyholder by the notifications once they
    exist). False if none is due today (run twice a day, it reminds once)."""
    overdue_days = (today - invoice.due_on).days
    due = min(overdue_days // REMINDER_EVERY_DAYS, MAX_REMINDERS)
    if due <= invoice.reminders_sent:
        return False
    invoice.reminders_sent = due
    notifications.notify(
        session,
        tenant_id=invoice.tenant_id,
        event=EventType.LAPSE_WARNING,
        subject=("invoice", invoice.id),
        payload={
            "invoice": invoice.number,
            "due_on": invoice.due_on.isoformat(),
            "overdue_days": overdue_days,
            "reminder": due,
            "open_minor": invoice.total_minor - invoice.paid_minor,
            "currency": invoice.currency,
        },
        now=datetime.combine(today, time(), tzinfo=UTC),
    )
    audit.record(
        session,
        None,
        "invoices:remind",
        target_type="invoice",
        target_id=invoice.id,
        tenant_id=invoice.tenant_id,
        detail={"number": invoice.number, "reminder": due, "overdue_days": overdue_days},
    )
    return True


def tell_due(session: Session, now: datetime, days_ahead: int, limit: int) -> int:
    """Tell each tenant, once per invoice, of its invoices falling due within ``days_ahead``
    days of ``now``'s day (today included: an invoice made late is told on the day it is due),
    whose policy is in force and which still ask for money (``invoice_due``). Returns how many
    were told; run twice a day, it tells each once."""
    today = now.date()
    told = 0
    for invoice, policy_number in repository.falling_due(
        session, today, today + timedelta(days=days_ahead), limit
    ):
        invoice.due_notice_at = now
        notifications.notify(
            session,
            tenant_id=invoice.tenant_id,
            event=EventType.INVOICE_DUE,
            subject=("invoice", invoice.id),
            payload={
                "number": invoice.number,
                "policy": policy_number,
                "installment": invoice.installment,
                "due_on": invoice.due_on.isoformat(),
                "days_left": (invoice.due_on - today).days,
                "open_minor": invoice.total_minor - invoice.paid_minor,
                "currency": invoice.currency,
            },
            now=now,
        )
        told += 1
    return told


def unpaid_before(session: Session, policy_id: uuid.UUID, before: date) -> list[Invoice]:
    """The policy's open invoices that were due before ``before``."""
    return [
        i
        for i in repository.invoices_of_policy(session, policy_id)
        if i.status == InvoiceStatus.OPEN and i.due_on < before
    ]


def refund(
    session: Session,
    principal: Principal,
    invoice_id: uuid.UUID,
    body: BankTransferCreate,
    now: datetime,
) -> Payment:
    """Pay out a credit note by bank transfer: refunds payable to cash, the note settled. The
    amount must be the note's, exactly (a partial refund would leave a note half owed)."""
    invoice = repository.invoice(session, invoice_id, tenant_scope(principal), for_update=True)
    if invoice is None:
        raise InvoiceNotFoundError(f"no invoice {invoice_id}")
    if invoice.kind != "credit" or invoice.status != InvoiceStatus.OPEN:
        raise ConflictError(
            f"only an open credit note is refunded; this is a {invoice.status} {invoice.kind}"
        )
    owed = -invoice.total_minor
    if body.amount_minor != owed:
        raise UnprocessableError(f"the credit note is refunded in full: {owed}")
    payment = Payment(
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        amount_minor=owed,
        currency=invoice.currency,
        method="refund",
        status=PaymentStatus.SUCCEEDED.value,
        bank_reference=body.bank_reference,
        recorded_by=str(principal.id),
        created_at=now,
        settled_at=now,
    )
    session.add(payment)
    session.flush()
    invoice.status = InvoiceStatus.PAID.value
    header = postings.EntryHeader(
        invoice.tenant_id, invoice.policy_id, f"refund:{payment.id}", now.date(), invoice.currency
    )
    ledger.post(
        session,
        postings.entry(
            header,
            "refund_paid",
            f"refund of credit note {invoice.number}",
            [(Account.REFUNDS_PAYABLE, owed), (Account.CASH, -owed)],
        ),
    )
    audit.record(
        session,
        principal,
        Action.PAYMENTS_REFUND,
        target_type="payment",
        target_id=payment.id,
        tenant_id=invoice.tenant_id,
        detail={"invoice": invoice.number, "amount_minor": owed, "method": "refund"},
    )
    return payment


def invoices_of(session: Session, policy_id: uuid.UUID) -> list[Invoice]:
    """The policy's invoices, by due date."""
    return repository.invoices_of_policy(session, policy_id)
