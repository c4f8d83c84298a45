"""Failed card payments for Prometheus, read from the database when scraped.

``robocover_payments_failed_total{reason}`` counts the payments whose status is ``failed``.
A payment fails in the jobs worker (a decline answered to the charge, a refusal, an invoice
voided meanwhile) or in an API process (the processor's ``charge.failed`` webhook). A counter
in each process's memory would show only the failures that process saw, forget them when it
restarts, and count a failure whose transaction then rolled back. The payments table holds
exactly the failures committed, whoever committed them, and a failed payment never changes
again: so the count read from it at scrape time only grows, and is the same from every
process that exports it (take the max across them, never the sum). The query counts the
failed rows through the payments' status index.

Reasons are a fixed set (the counting and the up gauge: conventions/failure_metrics.py):
``declined`` (the processor declined the card;
its own code stays in the payment's ``failure_reason``), ``refused`` (the processor refused
the request or answered no charge), ``invoice_not_open`` (the invoice was voided or paid before
the charge), ``other`` (none recorded).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cloud_api.billing import repository
from cloud_api.billing.payments import INVOICE_NOT_OPEN
from cloud_api.conventions.failure_metrics import FailureCollector, FailureScrape

KINDS = ("declined", "refused", "invoice_not_open", "other")
REFUSALS = ("the processor refused it", "the processor's answer", "not a charge")
"""How billing/processor.py's ProcessorProtocolError messages, kept as reasons, begin."""


def failure_kind(reason: str | None) -> str:
    """The label of a failed payment's recorded reason."""
    if reason is None:
        return "other"
    if reason == INVOICE_NOT_OPEN:
        return "invoice_not_open"
    if reason.startswith(REFUSALS):
        return "refused"
    return "declined"  # the processor's word: card_declined, insufficient_funds, ...


class FailedPayments(FailureCollector):
    """``robocover_payments_failed_total{reason}`` and ``robocover_payments_database_up``."""

    subject = "payments"
    failed_help = "Card payments failed, by reason (read from the payments table)"
    kinds = KINDS

    def read(self, session: Session) -> FailureScrape:
        return FailureScrape(repository.failure_reasons(session))

    def kind(self, reason: str | None) -> str:
        return failure_kind(reason)
