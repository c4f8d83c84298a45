"""Queries of the claims domain. Callers own the transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from database.models import (
    Claim,
    ClaimAttachment,
    ClaimEvent,
    ClaimEvidence,
    ClaimReserve,
    ClaimStatus,
    Robot,
    Tenant,
)

DECIDED_TO_PAY = (ClaimStatus.APPROVED.value, ClaimStatus.PAID.value, ClaimStatus.CLOSED.value)


def readable(statement: Select[Any], tenant: str | None) -> Any:
    """``statement`` over claims, kept to ``tenant``'s (a slug), or every tenant's (staff)."""
    joined = statement.join(Tenant, Tenant.id == Claim.tenant_id)
    return joined if tenant is None else joined.where(Tenant.slug == tenant)


def claims() -> Select[tuple[Claim]]:
    return select(Claim)


def claim(
    session: Session, claim_id: uuid.UUID, tenant: str | None, *, for_update: bool = False
) -> Claim | None:
    statement = readable(select(Claim).where(Claim.id == claim_id), tenant)
    if for_update:
        statement = statement.with_for_update(of=Claim)
    found: Claim | None = session.scalar(statement)
    return found


def robot(session: Session, robot_id: uuid.UUID, tenant: str | None) -> Robot | None:
    """The robot, if it is ``tenant``'s (any tenant's for staff)."""
    statement = select(Robot).where(Robot.id == robot_id)
    if tenant is not None:
        statement = statement.join(Tenant, Tenant.id == Robot.tenant_id).where(
            Tenant.slug == tenant
        )
    found: Robot | None = session.scalar(statement)
    return found


def tenant_slug(session: Session, tenant_id: uuid.UUID) -> str:
    return str(session.scalars(select(Tenant.slug).where(Tenant.id == tenant_id)).one())


def next_claim_number(session: Session, year: int) -> str:
    serial = session.scalars(text("SELECT nextval('claim_number_seq')")).one()
    return f"CL-{year}-{int(serial):06d}"


def aggregate_used(
    session: Session, policy_id: uuid.UUID, coverage: str, other_than: uuid.UUID | None
) -> int:
    """What the policy's other claims on this coverage were found to pay (approved, paid or
    closed after paying): the part of the coverage's aggregate they use."""
    statement = select(func.coalesce(func.sum(Claim.payable_minor), 0)).where(
        Claim.policy_id == policy_id,
        Claim.coverage == coverage,
        Claim.status.in_(DECIDED_TO_PAY),
        Claim.payable_minor.is_not(None),
    )
    if other_than is not None:
        statement = statement.where(Claim.id != other_than)
    return int(session.scalars(statement).one() or 0)


def reserves(session: Session, claim_id: uuid.UUID) -> dict[str, int]:
    """Each cost type's outstanding reserve (its latest row), zero ones included."""
    rows = session.execute(
        select(ClaimReserve.cost_type, ClaimReserve.amount_minor)
        .where(ClaimReserve.claim_id == claim_id)
        .order_by(ClaimReserve.cost_type, ClaimReserve.id.desc())
        .ext(distinct_on(ClaimReserve.cost_type))
    )
    return {cost_type: int(amount) for cost_type, amount in rows}


def add(session: Session, row: Claim | ClaimEvent | ClaimReserve | ClaimAttachment) -> None:
    session.add(row)
    session.flush()


def events(session: Session, claim_id: uuid.UUID, *, internal: bool) -> list[ClaimEvent]:
    """The claim's history, oldest first; without the insurer's internal events unless asked."""
    statement = select(ClaimEvent).where(ClaimEvent.claim_id == claim_id)
    if not internal:
        statement = statement.where(ClaimEvent.internal.is_(False))
    return list(session.scalars(statement.order_by(ClaimEvent.id)))


def evidence(session: Session, claim_id: uuid.UUID) -> ClaimEvidence | None:
    return session.get(ClaimEvidence, claim_id)


def attachments(session: Session, claim_id: uuid.UUID) -> list[ClaimAttachment]:
    return list(
        session.scalars(
            select(ClaimAttachment)
            .where(ClaimAttachment.claim_id == claim_id)
            .order_by(ClaimAttachment.uploaded_at, ClaimAttachment.id)
        )
    )


def attachment(
    session: Session, claim_id: uuid.UUID, attachment_id: uuid.UUID
) -> ClaimAttachment | None:
    found: ClaimAttachment | None = session.scalar(
        select(ClaimAttachment).where(
            ClaimAttachment.claim_id == claim_id, ClaimAttachment.id == attachment_id
        )
    )
    return found
