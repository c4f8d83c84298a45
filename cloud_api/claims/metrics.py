"""Claim payouts for Prometheus, read from the database when scraped (as billing/metrics.py reads
the failed card payments, and for the same reasons).

``robocover_claim_payouts_failed_total{reason}`` counts the payouts whose status is ``failed``.
A payout fails in the jobs worker (payouts.py's ``settle``), in a transaction of its own that
may roll back, and a failed payout never changes again: the claim_payouts table holds exactly
the failures committed, by every worker, across restarts, so the count read from it only grows
and is the same from every worker that exports it (take the max across them, never the sum).

Reasons are a fixed set (the counting and the up gauge: conventions/failure_metrics.py), read
from the payout's ``failure_reason``:

* ``declined``: the processor answered that the payout failed, with its own code (the payee's
  account: ``account_closed``, ...), which stays in the payout's ``failure_reason``;
* ``refused``: the processor refused the request (a 4xx other than 402), answered something that
  is not a payout (the worker's adapter keeps billing/processor.py's ``ProcessorProtocolError``
  message, see ``REFUSALS``), or said ``failed`` without a reason (recorded as ``refused``):
  the integration is wrong, not the payee's account;
* ``other``: none recorded.

``robocover_claim_payouts_pending`` counts the payouts not settled yet, and
``robocover_claim_payouts_oldest_pending_seconds`` is how long ago the oldest of them was asked
for (0 when none is): a payout waits while the processor is down, not configured, or says it is
pending, and is tried again with a backoff of up to about two hours between tries.
``robocover_claim_payouts_database_up`` is 0 when the database did not answer the scrape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client.metrics_core import GaugeMetricFamily
from sqlalchemy.orm import Session

from cloud_api.claims import repository
from cloud_api.conventions.failure_metrics import FailureCollector, FailureScrape
from cloud_api.sessions import Transactions

KINDS = ("declined", "refused", "other")
UNSTATED = "refused"
"""What payouts.py records when the processor says ``failed`` without a reason."""
REFUSALS = ("the processor refused it", "the processor's answer", "not a charge")
"""How billing/processor.py's ProcessorProtocolError messages, kept as reasons, begin (the
claims domain does not import billing's: test_ops_payout_metrics.py holds them together)."""


def failure_kind(reason: str | None) -> str:
    """The label of a failed payout's recorded reason."""
    if reason is None:
        return "other"
    if reason == UNSTATED or reason.startswith(REFUSALS):
        return "refused"
    return "declined"  # the processor's word: account_closed, invalid_account, ...


def _now() -> datetime:
    return datetime.now(UTC)


class PayoutMetrics(FailureCollector):
    """Failed payouts by reason, pending payouts and the oldest one's age, the database's up."""

    subject = "claim_payouts"
    failed_help = "Claim payouts failed, by reason (read from the claim_payouts table)"
    kinds = KINDS

    def __init__(self, transactions: Transactions, clock: Callable[[], datetime] = _now) -> None:
        super().__init__(transactions)
        self._clock = clock

    def read(self, session: Session) -> FailureScrape:
        reasons = repository.payout_failure_reasons(session)
        pending, oldest = repository.pending_payouts(session)
        age = 0.0 if oldest is None else max(0.0, (self._clock() - oldest).total_seconds())
        return FailureScrape(
            reasons,
            (
                GaugeMetricFamily(
                    "robocover_claim_payouts_pending",
                    "Claim payouts not settled yet",
                    value=pending,
                ),
                GaugeMetricFamily(
                    "robocover_claim_payouts_oldest_pending_seconds",
                    "Since the oldest pending claim payout was asked for (0 if none is pending)",
                    value=age,
                ),
            ),
        )

    def kind(self, reason: str | None) -> str:
        return failure_kind(reason)
