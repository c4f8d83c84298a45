"""Claims paid out through the payment processor (the billing issue's adapter: retries with
backoff and jitter, a circuit breaker, the payout's id as its Idempotency-Key).

* An adjuster asks for the payout of an approved claim to the payee's account, tokenized at
  the processor: what is payable and not yet paid, one pending payout per claim (409 else).
* The jobs worker claims the due payouts (SKIP LOCKED; each try moves its next attempt ahead,
  so a worker that dies mid-call leaves it due again), calls the processor outside any
  transaction, and settles each in its own: a succeeded payout pays the claim (the ``pay``
  transition, the reserves used, the ledger's cash) once; a failed one is kept with its reason
  and the claim stays approved for another payout; while the processor is unreachable the
  payout waits and goes through, once, when it is back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from cloud_api.access.roles import Principal
from cloud_api.claims import repository
from cloud_api.claims.schemas import PayoutCreate
from cloud_api.claims.service import actor_of, event, locked
from cloud_api.claims.settlement import paid
from cloud_api.errors import ConflictError
from database.models import Claim, ClaimPayout, ClaimStatus

BACKOFF = timedelta(seconds=30)


@dataclass(frozen=True)
class Answer:
    """What the processor said of a payout (its adapter's answer, reduced to what we keep)."""

    id: str
    status: Literal["succeeded", "pending", "failed"]
    failure_reason: str | None = None


def request(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: PayoutCreate, now: datetime
) -> ClaimPayout:
    claim = locked(session, principal, claim_id)
    if claim.status != ClaimStatus.APPROVED:
        raise ConflictError(f"a {claim.status} claim is not paid out: only an approved one is")
    amount = (claim.payable_minor or 0) - claim.paid_minor
    if amount <= 0:
        raise ConflictError("nothing is payable on the claim")
    if repository.pending_payout(session, claim.id) is not None:
        raise ConflictError("a payout of the claim is under way")
    payout = ClaimPayout(
        claim_id=claim.id,
        amount_minor=amount,
        currency=claim.currency,
        payee_token=body.payee_token,
        status="pending",
        next_attempt_at=now,
        requested_by=actor_of(principal),
        created_at=now,
    )
    repository.add(session, payout)
    event(
        session,
        principal,
        claim,
        now,
        kind="payout",
        detail={"payout_id": str(payout.id), "amount_minor": amount, "status": "pending"},
    )
    return payout


def claim_due(session: Session, now: datetime, limit: int) -> list[ClaimPayout]:
    due = repository.due_payouts(session, now, limit)
    for payout in due:
        payout.attempts += 1
        payout.next_attempt_at = now + BACKOFF * 2 ** min(payout.attempts - 1, 8)
    session.flush()
    return due


def settle(session: Session, payout_id: uuid.UUID, answer: Answer, now: datetime) -> str:
    """Apply the processor's answer once: ``paid``, ``failed``, or ``waiting`` (pending, or
    settled already)."""
    payout = repository.payout(session, payout_id, for_update=True)
    if payout is None or payout.status != "pending" or answer.status == "pending":
        return "waiting"
    payout.processor_payout_id, payout.settled_at = answer.id or None, now
    claim = repository.claim(session, payout.claim_id, None, for_update=True)
    assert claim is not None  # noqa: S101 - a foreign key
    if answer.status == "failed":
        fail(session, payout, claim, answer.failure_reason or "refused", now)
        return "failed"
    payout.status = "succeeded"
    paid(session, None, claim, {"payout": str(payout.id), "processor_payout": answer.id}, now)
    return "paid"


def fail(session: Session, payout: ClaimPayout, claim: Claim, reason: str, now: datetime) -> None:
    payout.status, payout.failure_reason, payout.settled_at = "failed", reason[:200], now
    event(
        session,
        None,
        claim,
        now,
        kind="payout",
        detail={"payout_id": str(payout.id), "status": "failed", "reason": reason[:200]},
    )
