"""Storing, approving and finding rating plans. Callers own the transaction.

The columns are authoritative for status and effective dates; ``body`` is the filed plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from database.models.plan import rating_plans
from risk_engine.plans.schema import PlanStatus, RatingPlan


class PlanError(Exception):
    """A plan cannot be approved, found or used as asked."""


@dataclass(frozen=True)
class StoredPlan:
    version: int
    status: PlanStatus
    plan: RatingPlan
    created_by: str
    approved_by: str | None
    approved_at: datetime | None


def _stored(row: Any) -> StoredPlan:
    body = dict(row.body)
    body.update(effective_from=row.effective_from, effective_to=row.effective_to)
    return StoredPlan(
        version=row.version,
        status=row.status,
        plan=RatingPlan.model_validate(body),
        created_by=row.created_by,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )


def save_draft(conn: Connection, plan: RatingPlan, *, created_by: str) -> int:
    """Store ``plan`` as a draft; returns its version."""
    version: int = conn.execute(
        insert(rating_plans)
        .values(
            name=plan.name,
            status="draft",
            effective_from=plan.effective_from,
            effective_to=plan.effective_to,
            currency=plan.currency,
            body=plan.model_dump(mode="json"),
            created_by=created_by,
        )
        .returning(rating_plans.c.version)
    ).scalar_one()
    return version


def get_plan(conn: Connection, version: int) -> StoredPlan:
    row = conn.execute(select(rating_plans).where(rating_plans.c.version == version)).first()
    if row is None:
        raise PlanError(f"there is no rating plan version {version}")
    return _stored(row)


def list_plans(conn: Connection) -> list[StoredPlan]:
    rows = conn.execute(select(rating_plans).order_by(rating_plans.c.version)).all()
    return [_stored(row) for row in rows]


def approve_plan(conn: Connection, version: int, *, approved_by: str, at: datetime) -> StoredPlan:
    """Approve a draft. An approved plan that it supersedes ends where this one starts; an
    approved plan that starts at the same time or later is a conflict."""
    if not approved_by.strip():
        raise PlanError("a plan is approved by someone: give their name")
    stored = get_plan(conn, version)
    if stored.status != "draft":
        raise PlanError(f"plan {version} is {stored.status}: only a draft can be approved")
    start = stored.plan.effective_from
    plans = rating_plans.c
    later = conn.execute(
        select(plans.version).where(plans.status == "approved", plans.effective_from >= start)
    ).first()
    if later is not None:
        raise PlanError(f"approved plan {later.version} starts on or after {start.isoformat()}")
    conn.execute(
        update(rating_plans)
        .where(
            plans.status == "approved",
            plans.effective_from < start,
            (plans.effective_to.is_(None)) | (plans.effective_to > start),
        )
        .values(effective_to=start)
    )
    conn.execute(
        update(rating_plans)
        .where(plans.version == version)
        .values(status="approved", approved_by=approved_by, approved_at=at)
    )
    return get_plan(conn, version)


def active_plan(conn: Connection, at: datetime) -> StoredPlan:
    """The approved plan in effect at ``at`` (the latest version, should two overlap)."""
    plans = rating_plans.c
    row = conn.execute(
        select(rating_plans)
        .where(
            plans.status == "approved",
            plans.effective_from <= at,
            (plans.effective_to.is_(None)) | (plans.effective_to > at),
        )
        .order_by(plans.version.desc())
        .limit(1)
    ).first()
    if row is None:
        raise PlanError(f"no approved rating plan is in effect at {at.isoformat()}")
    return _stored(row)
