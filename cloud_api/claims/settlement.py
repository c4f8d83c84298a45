"""The money of a claim: reserves by cost type, payment, recovery, and the decisions that end
reserves (deny, withdraw, close). Each posts its journal entry (``ledger.postings``) in the
caller's transaction, referenced by the claim's event, so it posts once.

* A reserve is set per cost type while the claim is open (reported to approved).
* Paying pays what is payable and not yet paid, by the bank transfer named; it uses the
  reserves first (largest first), and what it pays over them is incurred at once.
* Denying, withdrawing and closing release what is left of the reserves.
* A recovery is recorded on a claim that paid, up to what was paid and not yet recovered.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from cloud_api.access.roles import Principal
from cloud_api.claims import experience, repository
from cloud_api.claims.lifecycle import RECOVERABLE, RESERVABLE, ClaimTransition
from cloud_api.claims.schemas import (
    DenialCreate,
    PaymentCreate,
    ReasonedNote,
    RecoveryCreate,
    ReserveCreate,
)
from cloud_api.claims.service import actor_of, event, locked, move
from cloud_api.errors import ConflictError, UnprocessableError
from cloud_api.ledger import postings
from cloud_api.ledger import service as ledger
from database.models import Claim, ClaimEvent, ClaimReserve, ClaimStatus


def _header(claim: Claim, row: ClaimEvent, now: datetime) -> postings.EntryHeader:
    return postings.EntryHeader(
        claim.tenant_id, claim.policy_id, f"claim:{claim.id}:e{row.id}", now.date(), claim.currency
    )


def _reserve_row(
    session: Session,
    principal: Principal | None,
    claim: Claim,
    now: datetime,
    *,
    cost_type: str,
    amount: int,
    change: int,
    cause: str,
    note: str | None = None,
) -> None:
    repository.add(
        session,
        ClaimReserve(
            claim_id=claim.id,
            cost_type=cost_type,
            amount_minor=amount,
            change_minor=change,
            cause=cause,
            set_at=now,
            set_by=actor_of(principal),
            note=note,
        ),
    )


def set_reserve(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: ReserveCreate, now: datetime
) -> Claim:
    claim = locked(session, principal, claim_id)
    if ClaimStatus(claim.status) not in RESERVABLE:
        raise ConflictError(f"a {claim.status} claim takes no reserve")
    before = repository.reserves(session, claim.id).get(body.cost_type.value, 0)
    change = body.amount_minor - before
    if change == 0:
        return claim
    _reserve_row(
        session,
        principal,
        claim,
        now,
        cost_type=body.cost_type,
        amount=body.amount_minor,
        change=change,
        cause="set",
        note=body.note,
    )
    row = event(
        session,
        principal,
        claim,
        now,
        kind="reserve",
        note=body.note,
        internal=True,
        detail={"cost_type": body.cost_type.value, "amount_minor": body.amount_minor},
    )
    memo = f"claim {claim.number}: {body.cost_type.value} reserve {before} -> {body.amount_minor}"
    ledger.post(session, postings.reserve_changed(_header(claim, row, now), change, memo))
    claim.updated_at = now
    experience.record(session, claim)
    return claim


def _release(session: Session, principal: Principal | None, claim: Claim, now: datetime) -> int:
    """Release what is left of the claim's reserves; returns the amount released."""
    left = {k: v for k, v in repository.reserves(session, claim.id).items() if v > 0}
    if not left:
        return 0
    for cost_type, amount in sorted(left.items()):
        _reserve_row(
            session,
            principal,
            claim,
            now,
            cost_type=cost_type,
            amount=0,
            change=-amount,
            cause="release",
        )
    total = sum(left.values())
    row = event(
        session, principal, claim, now, kind="reserve", internal=True, detail={"released": left}
    )
    memo = f"claim {claim.number}: reserves released"
    ledger.post(session, postings.reserve_changed(_header(claim, row, now), -total, memo))
    return total


def pay(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: PaymentCreate, now: datetime
) -> Claim:
    """Record the bank transfer that paid what is payable and not yet paid."""
    claim = locked(session, principal, claim_id)
    return paid(session, principal, claim, {"bank_reference": body.bank_reference}, now)


def paid(
    session: Session,
    principal: Principal | None,
    claim: Claim,
    how: dict[str, str],
    now: datetime,
) -> Claim:
    """The claim (locked) paid what is payable and not yet paid, by ``how`` (a transfer's
    reference, or the processor's payout): the transition, the reserves used first, the
    ledger, the experience."""
    amount = (claim.payable_minor or 0) - claim.paid_minor
    if claim.status == ClaimStatus.APPROVED and amount <= 0:
        raise ConflictError("nothing is payable on the claim")  # approve() prevents it
    row = move(
        session, principal, claim, ClaimTransition.PAY, now, detail={"amount_minor": amount, **how}
    )
    from_reserves, left = 0, amount
    reserves = repository.reserves(session, claim.id)
    for cost_type, reserved in sorted(reserves.items(), key=lambda kv: (-kv[1], kv[0])):
        used = min(reserved, left)
        if used > 0:
            _reserve_row(
                session,
                principal,
                claim,
                now,
                cost_type=cost_type,
                amount=reserved - used,
                change=-used,
                cause="payment",
            )
            from_reserves, left = from_reserves + used, left - used
    memo = f"claim {claim.number} paid ({', '.join(f'{k} {v}' for k, v in how.items())})"[:200]
    ledger.post(session, postings.claim_paid(_header(claim, row, now), amount, from_reserves, memo))
    claim.paid_minor += amount
    experience.record(session, claim)
    return claim


def deny(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: DenialCreate, now: datetime
) -> Claim:
    claim = locked(session, principal, claim_id)
    move(
        session,
        principal,
        claim,
        ClaimTransition.DENY,
        now,
        note=body.note,
        reason_code=body.reason_code.value,
    )
    claim.decision_code = body.reason_code.value
    _release(session, principal, claim, now)
    experience.record(session, claim)
    return claim


def withdraw(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: ReasonedNote, now: datetime
) -> Claim:
    claim = locked(session, principal, claim_id)
    move(
        session,
        principal,
        claim,
        ClaimTransition.WITHDRAW,
        now,
        note=body.note,
        reason_code="withdrawn",
    )
    claim.decision_code = "withdrawn"
    _release(session, principal, claim, now)
    experience.record(session, claim)
    return claim


def close(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: ReasonedNote, now: datetime
) -> Claim:
    claim = locked(session, principal, claim_id)
    reason = "settled" if claim.status == ClaimStatus.PAID else "denied"
    move(session, principal, claim, ClaimTransition.CLOSE, now, note=body.note, reason_code=reason)
    _release(session, principal, claim, now)
    experience.record(session, claim)
    return claim


def reopen(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: ReasonedNote, now: datetime
) -> Claim:
    claim = locked(session, principal, claim_id)
    move(session, principal, claim, ClaimTransition.REOPEN, now, note=body.note)
    if claim.decision_code != "approved":
        claim.decision_code = None  # open again: it counts in the robot's experience
    experience.record(session, claim)
    return claim


def recover(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: RecoveryCreate, now: datetime
) -> Claim:
    claim = locked(session, principal, claim_id)
    if ClaimStatus(claim.status) not in RECOVERABLE:
        raise ConflictError(f"a {claim.status} claim has paid nothing to recover")
    open_minor = claim.paid_minor - claim.recovered_minor
    if body.amount_minor > open_minor:
        raise UnprocessableError(
            f"at most {open_minor} can be recovered: {claim.paid_minor} paid, "
            f"{claim.recovered_minor} recovered"
        )
    row = event(
        session,
        principal,
        claim,
        now,
        kind="recovery",
        note=body.note,
        detail={
            "amount_minor": body.amount_minor,
            "source": body.source,
            "subrogation": body.subrogation,
        },
    )
    memo = f"claim {claim.number}: recovered from {body.source}"[:200]
    ledger.post(
        session, postings.claim_recovered(_header(claim, row, now), body.amount_minor, memo)
    )
    claim.recovered_minor += body.amount_minor
    claim.updated_at = now
    return claim
