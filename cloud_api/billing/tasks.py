"""Task shells of billing's jobs. The card-payment job: claim the payments due (one
transaction, committed), call the processor for each outside any transaction, settle each in
its own transaction. The due-notice job: tell tenants of the invoices falling due, a batch per
transaction.

``transactions`` opens a transaction and yields its session (the worker's: a new session on
the engine, committed on exit; a test's: a savepoint of its own session)."""

from __future__ import annotations

from datetime import datetime

from loguru import logger

from cloud_api.billing import payments, service
from cloud_api.billing.processor import (
    ProcessorClient,
    ProcessorProtocolError,
    ProcessorUnavailableError,
)
from cloud_api.sessions import Transactions

BATCH = 100


def charge_due(
    transactions: Transactions, client: ProcessorClient, now: datetime, batch: int = BATCH
) -> dict[str, int]:
    """Charge the card payments due; counts of what happened to them."""
    with transactions() as session:
        due = [
            (p.id, p.amount_minor, p.currency, p.card_token or "")
            for p in payments.claim_due(session, now, batch)
        ]
    counts = {"settled": 0, "waiting": 0, "refused": 0}
    for payment_id, amount, currency, token in due:
        try:
            charge = client.charge(
                reference=str(payment_id), amount_minor=amount, currency=currency, card_token=token
            )
        except ProcessorUnavailableError as error:
            logger.warning("payment {} waits for the processor: {}", payment_id, error)
            counts["waiting"] += 1
            continue
        except ProcessorProtocolError as error:
            logger.error("payment {}: {}", payment_id, error)
            with transactions() as session:
                payments.refuse(session, payment_id, str(error), now)
            counts["refused"] += 1
            continue
        with transactions() as session:
            changed = payments.apply_charge(session, payment_id, charge, now)
        counts["settled" if changed else "waiting"] += 1
    return counts


def tell_invoices_due(
    transactions: Transactions, now: datetime, days_ahead: int, batch: int = BATCH
) -> int:
    """Tell every tenant of its invoices falling due within ``days_ahead`` days, once each (an
    invoice told is marked in the transaction of its notification). Returns how many."""
    told = 0
    while True:
        with transactions() as session:
            done = service.tell_due(session, now, days_ahead, batch)
        told += done
        if done < batch:
            break
    logger.info("invoices falling due by {}: {} told", now.date(), told)
    return told
