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

Reasons are a fixed set, every one exported even at 0 (a series that first appears at 1 would
hide that first failure from ``increase()``): ``declined`` (the processor declined the card;
its own code stays in the payment's ``failure_reason``), ``refused`` (the processor refused
the request or answered no charge), ``invoice_not_open`` (the invoice was voided or paid before
the charge), ``other`` (none recorded).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from loguru import logger
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from cloud_api.billing import repository
from cloud_api.billing.payments import INVOICE_NOT_OPEN
from cloud_api.sessions import Transactions

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


class FailedPayments(Collector):
    """``robocover_payments_failed_total{reason}`` and ``robocover_payments_database_up``."""

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "robocover_payments_database_up", "1 if the database answered this scrape"
        )
        try:
            with self._transactions() as session:
                rows = repository.failure_reasons(session)
        except SQLAlchemyError as error:
            logger.warning("payment metrics: the database did not answer: {}", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        failed = CounterMetricFamily(
            "robocover_payments_failed",
            "Card payments failed, by reason (read from the payments table)",
            labels=["reason"],
        )
        by_kind: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
        for reason, count in rows:
            by_kind[failure_kind(reason)] += count
        for kind in KINDS:
            failed.add_metric([kind], by_kind[kind])
        yield from (up, failed)
