"""Queries of quotes and policies. Callers own the transaction. A principal's tenant is applied
in one place, ``readable``: another tenant's quote or policy is not found."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ARRAY, Select, Text, Uuid, any_, cast, func, literal, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from database.models import (
    EndorsementProposal,
    Policy,
    PolicyVersion,
    Quote,
    QuoteLine,
    Robot,
    Tenant,
    risk_scores,
)


def readable(statement: Select[Any], entity: type[Quote] | type[Policy], tenant: str | None) -> Any:
    """``statement`` over quotes or policies, joined with their tenant and kept to ``tenant``'s
    (a slug), or every tenant's when None (staff)."""
    joined = statement.join(Tenant, Tenant.id == entity.tenant_id)
    return joined if tenant is None else joined.where(Tenant.slug == tenant)


def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.slug == slug))


def tenant_slug(session: Session, tenant_id: uuid.UUID) -> str:
    return str(session.scalars(select(Tenant.slug).where(Tenant.id == tenant_id)).one())


def tenant_slugs(session: Session, tenant_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The tenants' slugs, in one query for a page of policies."""
    rows = session.execute(select(Tenant.id, Tenant.slug).where(Tenant.id.in_(tenant_ids)))
    return {tenant_id: slug for tenant_id, slug in rows}


def robots_of_tenant(
    session: Session, tenant_id: uuid.UUID, robot_ids: Sequence[uuid.UUID]
) -> list[Any]:
    """(id, robot_class, status) of those of the robots that are the tenant's."""
    return list(
        session.connection().execute(
            select(Robot.id, Robot.robot_class, Robot.status).where(
                Robot.tenant_id == tenant_id,
                Robot.id == any_(literal(list(robot_ids), ARRAY(Uuid))),
            )
        )
    )


def latest_scores(session: Session, robot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Each robot's last score (what a quote line shows of it; robots without one missing)."""
    s = risk_scores.c
    rows = session.connection().execute(
        select(
            s.id,
            s.robot_id,
            s.premium,
            s.technical_premium,
            s.scored_at,
            s.plan_version,
            cast(s.reasons, Text).label("reasons"),  # decoded by orjson: a fleet has thousands
        )  # not the features and contributions: JSON a quote does not read
        .where(s.robot_id == any_(literal(list(robot_ids), ARRAY(Uuid))))
        .order_by(s.robot_id, s.id.desc())
        .ext(distinct_on(s.robot_id))
    )
    return {row.robot_id: {**row._mapping, "reasons": orjson.loads(row.reasons)} for row in rows}


def quote(
    session: Session, quote_id: uuid.UUID, tenant: str | None, *, for_update: bool = False
) -> Quote | None:
    statement = readable(select(Quote).where(Quote.id == quote_id), Quote, tenant)
    if for_update:
        statement = statement.with_for_update(of=Quote)
    found: Quote | None = session.scalar(statement)
    return found


def quote_lines(session: Session, quote_id: uuid.UUID) -> list[QuoteLine]:
    return list(
        session.scalars(
            select(QuoteLine)
            .where(QuoteLine.quote_id == quote_id)
            .order_by(QuoteLine.robot_id, QuoteLine.coverage)
        )
    )


def policy(
    session: Session, policy_id: uuid.UUID, tenant: str | None, *, for_update: bool = False
) -> Policy | None:
    statement = readable(select(Policy).where(Policy.id == policy_id), Policy, tenant)
    if for_update:
        statement = statement.with_for_update(of=Policy)
    found: Policy | None = session.scalar(statement)
    return found


def policies() -> Select[tuple[Policy]]:
    return select(Policy)


def latest_versions(
    session: Session, policy_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, PolicyVersion]:
    """Each policy's latest version, in one query for a page of policies."""
    rows = session.scalars(
        select(PolicyVersion)
        .where(PolicyVersion.policy_id.in_(policy_ids))
        .ext(distinct_on(PolicyVersion.policy_id))
        .order_by(PolicyVersion.policy_id, PolicyVersion.version_no.desc())
    )
    return {version.policy_id: version for version in rows}


def versions(session: Session, policy_id: uuid.UUID) -> list[PolicyVersion]:
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.policy_id == policy_id)
            .order_by(PolicyVersion.version_no)
        )
    )


def version_at(session: Session, policy_id: uuid.UUID, at: datetime) -> PolicyVersion | None:
    """The version in effect at ``at``: the latest effective_from not after it, the latest
    recorded among equals."""
    found: PolicyVersion | None = session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.policy_id == policy_id, PolicyVersion.effective_from <= at)
        .order_by(PolicyVersion.effective_from.desc(), PolicyVersion.version_no.desc())
        .limit(1)
    )
    return found


def next_policy_number(session: Session, year: int) -> str:
    serial = session.scalars(text("SELECT nextval('policy_number_seq')")).one()
    return f"RC-{year}-{int(serial):06d}"


def policy_of_quote(session: Session, quote_id: uuid.UUID) -> Policy | None:
    found: Policy | None = session.scalar(select(Policy).where(Policy.quote_id == quote_id))
    return found


def count_versions(session: Session, policy_id: uuid.UUID) -> int:
    return int(
        session.scalars(select(func.count()).where(PolicyVersion.policy_id == policy_id)).one()
    )


def robot_serials(session: Session, robot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = session.execute(select(Robot.id, Robot.serial_number).where(Robot.id.in_(robot_ids)))
    return {robot_id: serial for robot_id, serial in rows}


def tenant_name(session: Session, tenant_id: uuid.UUID) -> str:
    return str(session.scalars(select(Tenant.name).where(Tenant.id == tenant_id)).one())


PREMIUM_TRANSITIONS = ("issue", "endorse", "cancel", "lapse", "reinstate")
"""The transitions that move premium: the only versions earning reads."""


_EARNING_ROWS = """
WITH batch AS (
    SELECT id, tenant_id, number, currency, term_start, term_end, earned_minor, version
    FROM policies
    WHERE {where} ORDER BY id {limit} FOR NO KEY UPDATE
)
SELECT b.id AS policy_id, b.tenant_id, b.number, b.currency, b.term_start, b.term_end,
    b.earned_minor, b.version AS policy_version, v.version_no, v.transition, v.effective_from,
    v.premium_change_minor, v.retained_minor
FROM batch b LEFT JOIN policy_versions v ON v.policy_id = b.id
    AND v.transition = ANY(CAST(:transitions AS text[]))
    -- the batch's range of ids: one index range scan, not every version of the book
    AND v.policy_id >= (SELECT id FROM batch ORDER BY id LIMIT 1)
    AND v.policy_id <= (SELECT id FROM batch ORDER BY id DESC LIMIT 1)
ORDER BY b.id, v.version_no
"""
_BOOK_WINDOW = text(
    _EARNING_ROWS.format(
        where="number IS NOT NULL AND term_start < :before AND term_end > :ended_after"
        " AND id > :after",
        limit="LIMIT :limit",
    )
)
_OF_POLICIES = text(_EARNING_ROWS.format(where="id = ANY(CAST(:ids AS uuid[]))", limit=""))
_FIRST_ID = uuid.UUID(int=0)


def earning_rows(
    session: Session, through: date, ended_after: date, after: uuid.UUID | None, limit: int
) -> list[Any]:
    """Everything earning reads of the next ``limit`` issued policies (by id, after
    ``after``) whose term had begun by ``through`` and ended after ``ended_after``, in one
    query: a row per version that moved premium (in order, each with its policy's tenant,
    number, currency, term and earned-to-date; one row of None versions for a policy without
    any). The policies are locked (FOR NO KEY UPDATE) until the caller's transaction ends, so
    two earnings of one policy run one after the other and the second reads the first's
    earned-to-date."""
    parameters = {
        "before": through + timedelta(days=1),
        "ended_after": ended_after,
        "after": after or _FIRST_ID,
        "limit": limit,
        "transitions": list(PREMIUM_TRANSITIONS),
    }
    return list(session.connection().execute(_BOOK_WINDOW, parameters).all())


def earning_rows_of(session: Session, policy_ids: Sequence[uuid.UUID]) -> list[Any]:
    """``earning_rows`` of these policies, whatever their term."""
    parameters = {"ids": list(policy_ids), "transitions": list(PREMIUM_TRANSITIONS)}
    return list(session.connection().execute(_OF_POLICIES, parameters).all())


def ended_in_force(session: Session, now: datetime, limit: int) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Policy.id)
            .where(Policy.status == "in_force", Policy.term_end <= now)
            .order_by(Policy.id)
            .limit(limit)
        )
    )


def written_totals(session: Session, policy_id: uuid.UUID) -> tuple[int, int]:
    """(premium, tax) the policy's versions wrote, net of returns."""
    premium, tax = session.execute(
        select(
            func.coalesce(func.sum(PolicyVersion.premium_change_minor), 0),
            func.coalesce(func.sum(PolicyVersion.tax_change_minor), 0),
        ).where(PolicyVersion.policy_id == policy_id)
    ).one()
    return int(premium), int(tax)


def renewal_offered(session: Session, policy_id: uuid.UUID, now: datetime) -> bool:
    """A renewal of the policy is bound, or quoted and not yet expired."""
    quote = session.scalar(
        select(Quote.id)
        .where(
            Quote.renewal_of == policy_id,
            (Quote.status == "bound") | (Quote.expires_at > now),
        )
        .limit(1)
    )
    return quote is not None


def add_quote_lines(session: Session, quote_id: uuid.UUID, lines: Sequence[Any]) -> None:
    """The quote's lines (``pricing.PricedLine``), by COPY: a fleet's quote has thousands (their
    explanations encoded by orjson, a sixth of the cost of ``json``)."""
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(
        "COPY quote_lines (quote_id, robot_id, coverage, premium_minor, rated_premium, source,"
        " score_id, explanation) FROM STDIN"
    ) as copy:
        for line in lines:
            copy.write_row(
                (
                    quote_id,
                    line.robot_id,
                    line.coverage,
                    line.premium_minor,
                    line.rated_premium,
                    line.source.value,
                    line.score_id,
                    orjson.dumps(line.explanation).decode(),  # jsonb from its text
                )
            )


def proposal(
    session: Session, policy_id: uuid.UUID, effective_on: date
) -> EndorsementProposal | None:
    found: EndorsementProposal | None = session.scalar(
        select(EndorsementProposal).where(
            EndorsementProposal.policy_id == policy_id,
            EndorsementProposal.effective_on == effective_on,
        )
    )
    return found


def proposal_by_id(
    session: Session, proposal_id: uuid.UUID, *, for_update: bool = False
) -> EndorsementProposal | None:
    statement = select(EndorsementProposal).where(EndorsementProposal.id == proposal_id)
    if for_update:
        statement = statement.with_for_update()
    found: EndorsementProposal | None = session.scalar(statement)
    return found


def proposals() -> Select[tuple[EndorsementProposal]]:
    return select(EndorsementProposal)


def in_force_ids(session: Session, limit: int) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Policy.id).where(Policy.status == "in_force").order_by(Policy.id).limit(limit)
        )
    )


def set_earned(session: Session, earned: dict[uuid.UUID, int]) -> None:
    """Each policy's earned-to-date, in one statement."""
    if not earned:
        return
    session.execute(
        text(
            "UPDATE policies SET earned_minor = e.amount"
            " FROM unnest(CAST(:ids AS uuid[]), CAST(:amounts AS bigint[])) AS e(id, amount)"
            " WHERE policies.id = e.id"
        ),
        {"ids": list(earned), "amounts": list(earned.values())},
    )


def policies_scheduling(
    session: Session, tenant_id: uuid.UUID, robot_id: uuid.UUID
) -> list[Policy]:
    """The tenant's issued policies any version of which had the robot on its schedule, latest
    term first."""
    scheduled = select(PolicyVersion.policy_id).where(
        PolicyVersion.schedule.contains([{"robot_id": str(robot_id)}])
    )
    return list(
        session.scalars(
            select(Policy)
            .where(
                Policy.tenant_id == tenant_id,
                Policy.number.is_not(None),
                Policy.id.in_(scheduled),
            )
            .order_by(Policy.term_start.desc())
        )
    )
