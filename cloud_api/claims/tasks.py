"""Task shell of the payout job: claim the payouts due (one transaction, committed), call the
processor for each outside any transaction (``send``, the processor adapter the worker gives),
settle each in its own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from loguru import logger

from cloud_api.claims import payouts
from cloud_api.claims.payouts import Answer
from cloud_api.sessions import Transactions

BATCH = 50


class Unreachable(Exception):  # noqa: N818 - a state, not a failure of ours
    """The processor cannot be reached now: the payout waits for its next try."""


class Refused(Exception):  # noqa: N818
    """The processor will not take the request (not a decline): the payout fails."""


@dataclass(frozen=True)
class Outgoing:
    """A payout to send, read before its claim's transaction ended."""

    id: uuid.UUID
    amount_minor: int
    currency: str
    payee_token: str


Send = Callable[[Outgoing], Answer]


def pay_out_due(
    transactions: Transactions, send: Send, now: datetime, batch: int = BATCH
) -> dict[str, int]:
    with transactions() as session:
        due = [
            (p.id, p.amount_minor, p.currency, p.payee_token)
            for p in payouts.claim_due(session, now, batch)
        ]
    counts = {"paid": 0, "failed": 0, "waiting": 0}
    for payout_id, amount, currency, payee in due:
        try:
            answer = send(Outgoing(payout_id, amount, currency, payee))
        except Unreachable as error:
            logger.warning("payout {} waits for the processor: {}", payout_id, error)
            counts["waiting"] += 1
            continue
        except Refused as error:
            answer = Answer(id="", status="failed", failure_reason=str(error))
        with transactions() as session:
            counts[payouts.settle(session, payout_id, answer, now)] += 1
    return counts
