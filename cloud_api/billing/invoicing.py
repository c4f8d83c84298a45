"""Making and voiding invoices, with the ledger postings of their fees."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cloud_api.billing import repository
from cloud_api.billing.installments import DraftInvoice
from cloud_api.ledger import postings
from cloud_api.ledger import service as ledger
from database.models import Account, Invoice, InvoiceLine, InvoiceStatus, Policy


def issue_invoice(
    session: Session,
    policy: Policy,
    draft: DraftInvoice,
    now: datetime,
    *,
    kind: str,
    reference: str,
) -> Invoice:
    """An invoice of ``draft``'s lines (its fee written to the receivable and fee revenue)."""
    premium, tax, fee = draft.total("premium"), draft.total("tax"), draft.total("fee")
    invoice = Invoice(
        number=repository.next_invoice_number(session, now.year),
        reference=reference,
        tenant_id=policy.tenant_id,
        policy_id=policy.id,
        kind=kind,
        installment=draft.installment,
        currency=policy.currency,
        issued_at=now,
        due_on=draft.due_on,
        premium_minor=premium,
        tax_minor=tax,
        fee_minor=fee,
        total_minor=premium + tax + fee,
        paid_minor=0,
        status=InvoiceStatus.OPEN.value,
    )
    session.add(invoice)
    session.flush()
    session.add_all(
        InvoiceLine(
            invoice_id=invoice.id,
            kind=line.kind,
            robot_id=line.robot_id,
            coverage=line.coverage,
            amount_minor=line.amount_minor,
        )
        for line in draft.lines
    )
    header = postings.EntryHeader(
        policy.tenant_id, policy.id, f"invoice:{invoice.id}:fee", now.date(), policy.currency
    )
    fee_entry = postings.entry(
        header,
        "installment_fee",
        f"installment fee of invoice {invoice.number}",
        [(Account.PREMIUM_RECEIVABLE, fee), (Account.INSTALLMENT_FEES, -fee)],
    )
    ledger.post(session, fee_entry)
    return invoice


def void(session: Session, invoice: Invoice, now: datetime) -> None:
    """Void an invoice nothing was paid on; its fee leaves the receivable and fee revenue."""
    invoice.status = InvoiceStatus.VOID.value
    header = postings.EntryHeader(
        invoice.tenant_id,
        invoice.policy_id,
        f"invoice:{invoice.id}:void",
        now.date(),
        invoice.currency,
    )
    ledger.post(
        session,
        postings.entry(
            header,
            "invoice_voided",
            f"fee of voided invoice {invoice.number}",
            [
                (Account.PREMIUM_RECEIVABLE, -invoice.fee_minor),
                (Account.INSTALLMENT_FEES, invoice.fee_minor),
            ],
        ),
    )
    session.flush()
