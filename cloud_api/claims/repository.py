"""Queries of the claims domain. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from database.models import (
    Claim,
    ClaimAttachment,
    ClaimEvent,
    ClaimEvidence,
    ClaimPayout,
    ClaimReserve,
    ClaimStatus,
    Policy,
    Robot,
    Tenant,
    claim_experience,
)


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


def next_claim_number(session: Session, year: int) -> str:
    serial = session.scalars(text("SELECT nextval('claim_number_seq')")).one()
    return f"CL-{year}-{int(serial):06d}"


def aggregate_used(
    session: Session, policy_id: uuid.UUID, coverage: str, other_than: uuid.UUID | None
) -> int:
    """What the policy's other claims on this coverage use of its aggregate: what each paid,
    or, approved and not yet paid, what it was found to pay (a reopened or denied claim that
    paid still counts what it paid)."""
    owed = case(
        (Claim.status == ClaimStatus.APPROVED.value, func.coalesce(Claim.payable_minor, 0)),
        else_=0,
    )
    statement = select(func.coalesce(func.sum(func.greatest(Claim.paid_minor, owed)), 0)).where(
        Claim.policy_id == policy_id, Claim.coverage == coverage
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


def reserves_of(
    session: Session, claim_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """``reserves`` of each claim, in one query for a page of claims (a claim without a
    reserve row has none)."""
    rows = session.execute(
        select(ClaimReserve.claim_id, ClaimReserve.cost_type, ClaimReserve.amount_minor)
        .where(ClaimReserve.claim_id.in_(claim_ids))
        .order_by(ClaimReserve.claim_id, ClaimReserve.cost_type, ClaimReserve.id.desc())
        .ext(distinct_on(ClaimReserve.claim_id, ClaimReserve.cost_type))
    )
    found: dict[uuid.UUID, dict[str, int]] = {claim_id: {} for claim_id in claim_ids}
    for claim_id, cost_type, amount in rows:
        found[claim_id][cost_type] = int(amount)
    return found


def tenant_slugs(session: Session, tenant_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The tenants' slugs, in one query for a page of claims."""
    rows = session.execute(select(Tenant.id, Tenant.slug).where(Tenant.id.in_(tenant_ids)))
    return {tenant_id: slug for tenant_id, slug in rows}


def add(
    session: Session, row: Claim | ClaimEvent | ClaimReserve | ClaimAttachment | ClaimPayout
) -> None:
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


_EXPERIENCE = text(
    "SELECT count(*), coalesce(sum(c.paid_minor + coalesce(r.outstanding, 0)), 0)"
    " FROM claims c LEFT JOIN LATERAL ("
    "   SELECT sum(amount_minor) AS outstanding FROM ("
    "     SELECT DISTINCT ON (cost_type) amount_minor FROM claim_reserves"
    "     WHERE claim_id = c.id ORDER BY cost_type, id DESC) AS latest"
    " ) r ON true"
    " WHERE c.robot_id = :robot AND c.coverage = :coverage"
    " AND c.loss_at >= :start AND c.loss_at < :end"
    " AND (c.decision_code IS NULL OR c.decision_code = 'approved')"
)
_OPERATING_HOURS = text(
    "SELECT coalesce(max(h.maximum) - min(h.minimum), 0) FROM telemetry_hourly h"
    " JOIN metrics m ON m.id = h.metric_id"
    " WHERE h.robot_id = :robot AND m.name = 'operating_hours_h'"
    " AND h.bucket >= :start AND h.bucket < :end"
)


def experience_claims(
    session: Session, robot_id: uuid.UUID, coverage: str, start: datetime, end: datetime
) -> tuple[int, int]:
    """(claims that count, their incurred in minor units) of a robot's coverage and month."""
    count, incurred = session.execute(
        _EXPERIENCE, {"robot": robot_id, "coverage": coverage, "start": start, "end": end}
    ).one()
    return int(count), int(incurred)


def operating_hours(session: Session, robot_id: uuid.UUID, start: datetime, end: datetime) -> float:
    hours = session.scalar(_OPERATING_HOURS, {"robot": robot_id, "start": start, "end": end})
    return max(float(hours or 0.0), 0.0)


def upsert_experience(
    session: Session,
    *,
    robot_id: uuid.UUID,
    coverage: str,
    period: tuple[datetime, datetime],
    claims: int,
    incurred: Decimal,
    exposure_h: float,
) -> None:
    values = {
        "robot_id": robot_id,
        "period_start": period[0],
        "coverage": coverage,
        "period_end": period[1],
        "claim_count": claims,
        "incurred": incurred,
        "exposure_h": exposure_h,
    }
    statement = insert(claim_experience).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["robot_id", "period_start", "coverage"],
            set_={
                "period_end": statement.excluded.period_end,
                "claim_count": statement.excluded.claim_count,
                "incurred": statement.excluded.incurred,
                "exposure_h": statement.excluded.exposure_h,
                "recorded_at": func.now(),
            },
        )
    )


def pending_payout(session: Session, claim_id: uuid.UUID) -> ClaimPayout | None:
    found: ClaimPayout | None = session.scalar(
        select(ClaimPayout).where(ClaimPayout.claim_id == claim_id, ClaimPayout.status == "pending")
    )
    return found


def payouts(session: Session, claim_id: uuid.UUID) -> list[ClaimPayout]:
    return list(
        session.scalars(
            select(ClaimPayout)
            .where(ClaimPayout.claim_id == claim_id)
            .order_by(ClaimPayout.created_at)
        )
    )


def payout(
    session: Session, payout_id: uuid.UUID, *, for_update: bool = False
) -> ClaimPayout | None:
    statement = select(ClaimPayout).where(ClaimPayout.id == payout_id)
    if for_update:
        statement = statement.with_for_update()
    found: ClaimPayout | None = session.scalar(statement)
    return found


def due_payouts(session: Session, now: datetime, limit: int) -> list[ClaimPayout]:
    return list(
        session.scalars(
            select(ClaimPayout)
            .where(ClaimPayout.status == "pending", ClaimPayout.next_attempt_at <= now)
            .order_by(ClaimPayout.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def payout_failure_reasons(session: Session) -> list[tuple[str | None, int]]:
    """Failed payouts by their recorded reason, every tenant's (the metrics' scrape)."""
    rows = session.execute(
        select(ClaimPayout.failure_reason, func.count())
        .where(ClaimPayout.status == "failed")
        .group_by(ClaimPayout.failure_reason)
    )
    return [(reason, int(count)) for reason, count in rows]


def pending_payouts(session: Session) -> tuple[int, datetime | None]:
    """How many payouts are pending, and when the oldest was asked for (the metrics' scrape)."""
    count, oldest = session.execute(
        select(func.count(), func.min(ClaimPayout.created_at)).where(
            ClaimPayout.status == "pending"
        )
    ).one()
    return int(count), oldest


def lock_policy(session: Session, policy_id: uuid.UUID) -> None:
    """Hold the policy's row until the transaction ends: two approvals on one policy take its
    aggregate one after the other."""
    session.execute(select(Policy.id).where(Policy.id == policy_id).with_for_update())


def lock_experience(session: Session, key: str) -> None:
    """Serialise the writers of one claims-experience row (robot, coverage, month)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
