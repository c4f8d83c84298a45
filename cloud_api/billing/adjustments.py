"""Keeping what is invoiced equal to what is written, after a policy's premium changes
(endorsement, cancellation, lapse, reinstatement).

``rebill`` compares the premium and tax the policy's versions wrote with what its live (not
void) invoices ask for:

* more written: an adjustment invoice for the difference, due in 14 days;
* less written (a return): the open invoices nothing was paid on are voided, latest due first
  (their fee reversed), until the return is covered; what they over-cover is invoiced again as
  an adjustment, and what is still to return is a credit note (negative amounts, open until it
  is refunded) whose amount moves from the receivable to refunds payable.

So at any time the live invoices' premium and tax are the written premium and tax, and the
receivable is what is invoiced less what was paid.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cloud_api.billing import repository
from cloud_api.billing.installments import DraftInvoice, DraftLine
from cloud_api.billing.invoicing import issue_invoice, void
from cloud_api.ledger import postings
from cloud_api.ledger import service as ledger
from database.models import Account, Invoice, InvoiceStatus, Policy

ADJUSTMENT_DUE_DAYS = 14


def rebill(
    session: Session,
    policy: Policy,
    written_premium: int,
    written_tax: int,
    now: datetime,
    *,
    reference: str,
) -> list[Invoice]:
    """Bring the policy's invoices to what it wrote; the invoices made (none if equal).
    ``reference`` names the change (its invoices' references derive from it)."""
    invoices = repository.invoices_of_policy(session, policy.id)
    live = [i for i in invoices if i.status != InvoiceStatus.VOID]
    premium = written_premium - sum(i.premium_minor for i in live)
    tax = written_tax - sum(i.tax_minor for i in live)
    if premium < 0 or tax < 0:
        unpaid = [
            i
            for i in live
            if i.status == InvoiceStatus.OPEN
            and i.paid_minor == 0
            and repository.pending_payment(session, i.id) is None
        ]
        for invoice in sorted(unpaid, key=lambda i: (i.due_on, i.installment), reverse=True):
            if invoice.kind == "credit" or (premium >= 0 and tax >= 0):
                continue
            void(session, invoice, now)
            premium += invoice.premium_minor
            tax += invoice.tax_minor
    made = []
    due = now.date() + timedelta(days=ADJUSTMENT_DUE_DAYS)
    owed = DraftInvoice(1, due, _lines(max(premium, 0), max(tax, 0)))
    if owed.lines:
        made.append(
            issue_invoice(
                session, policy, owed, now, kind="adjustment", reference=f"{reference}:due"
            )
        )
    returned = DraftInvoice(1, now.date(), _lines(min(premium, 0), min(tax, 0)))
    if returned.lines:
        credit = issue_invoice(
            session, policy, returned, now, kind="credit", reference=f"{reference}:credit"
        )
        header = postings.EntryHeader(
            policy.tenant_id, policy.id, f"invoice:{credit.id}:refund", now.date(), policy.currency
        )
        amount = -credit.total_minor
        ledger.post(
            session,
            postings.entry(
                header,
                "refund_owed",
                f"premium to refund, credit note {credit.number}",
                [(Account.PREMIUM_RECEIVABLE, amount), (Account.REFUNDS_PAYABLE, -amount)],
            ),
        )
        made.append(credit)
    return made


def _lines(premium: int, tax: int) -> tuple[DraftLine, ...]:
    return tuple(
        DraftLine(kind, amount) for kind, amount in (("premium", premium), ("tax", tax)) if amount
    )
