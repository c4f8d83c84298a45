"""Queries of the reviews domain. Callers own the transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Exists, ScalarSelect, SQLColumnExpression, exists, func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from database.models import CaseStatus, ReviewCase, ReviewCaseAction


def cases(
    session: Session, *, robot_id: uuid.UUID | None, open_only: bool, limit: int
) -> list[ReviewCase]:
    query = select(ReviewCase).order_by(ReviewCase.opened_at.desc(), ReviewCase.id.desc())
    if robot_id is not None:
        query = query.where(ReviewCase.robot_id == robot_id)
    if open_only:
        query = query.where(ReviewCase.status == CaseStatus.OPEN)
    return list(session.scalars(query.limit(limit)))


def case_for_update(session: Session, case_id: int) -> ReviewCase | None:
    return session.scalar(select(ReviewCase).where(ReviewCase.id == case_id).with_for_update())


def actions(session: Session, case_id: int) -> list[ReviewCaseAction]:
    return list(
        session.scalars(
            select(ReviewCaseAction)
            .where(ReviewCaseAction.case_id == case_id)
            .order_by(ReviewCaseAction.at, ReviewCaseAction.id)
        )
    )


def add_action(session: Session, case_id: int, *, actor: str, action: str, note: str) -> None:
    session.add(ReviewCaseAction(case_id=case_id, actor=actor, action=action, note=note))


def open_cases_json(robot_id: SQLColumnExpression[uuid.UUID], limit: int) -> ScalarSelect[Any]:
    """The robot's open cases, newest first, as one JSON array (correlated with the caller's
    query through ``robot_id``): what ``cases(open_only=True)`` reads, without a round trip."""
    c = ReviewCase
    newest = (
        select(c.id, c.category, c.reason, c.opened_at, c.last_evidence_at, c.evidence_count)
        .where(c.robot_id == robot_id, c.status == CaseStatus.OPEN)
        .order_by(c.opened_at.desc(), c.id.desc())
        .limit(limit)
        .subquery()
    )
    in_order = aggregate_order_by(
        func.row_to_json(newest.table_valued()),
        newest.c.opened_at.desc(),
        newest.c.id.desc(),
    )
    return (
        select(func.coalesce(func.json_agg(in_order), text("'[]'::json")))
        .select_from(newest)
        .scalar_subquery()
    )


def open_case_exists(robot_id: SQLColumnExpression[uuid.UUID], category: str | None) -> Exists:
    """EXISTS an open case of the robot ``robot_id`` (a column: correlates with the caller's
    query), of ``category`` or any; the partial index of open cases serves it."""
    query = select(ReviewCase.id).where(
        ReviewCase.robot_id == robot_id, ReviewCase.status == CaseStatus.OPEN
    )
    if category is not None:
        query = query.where(ReviewCase.category == category)
    return exists(query)
