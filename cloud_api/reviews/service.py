"""Deciding review cases. A case is cleared (an innocent explanation: a firmware bug, a restored
backup) or confirmed (the robot's data is not to be trusted), always with who and why; every
step is in the case's audit. Pricing reads open tamper cases (risk_engine/repository.py), so
clearing one lifts the tamper factor at the next rescore, and a confirmed one no longer counts
as open: what it proved is for underwriting and claims to act on."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Exists, ScalarSelect, SQLColumnExpression
from sqlalchemy.orm import Session

from cloud_api.errors import ConflictError, NotFoundError
from cloud_api.reviews import repository
from database.models import CaseCategory, CaseStatus, ReviewCase, ReviewCaseAction


class CaseNotFoundError(NotFoundError):
    pass


class CaseClosedError(ConflictError):
    pass


def decide(
    session: Session,
    *,
    case_id: int,
    outcome: CaseStatus,
    actor: str,
    note: str,
    now: datetime,
) -> ReviewCase:
    if outcome == CaseStatus.OPEN:
        raise ValueError("a decision clears or confirms a case")
    if not note.strip():
        raise ValueError("a decision needs its reason")
    case = repository.case_for_update(session, case_id)
    if case is None:
        raise CaseNotFoundError(f"no review case {case_id}")
    if case.status != CaseStatus.OPEN:
        raise CaseClosedError(f"case {case_id} is already {case.status}")
    case.status = outcome.value
    case.resolved_at = now
    case.resolved_by = actor
    case.resolution_note = note
    repository.add_action(session, case.id, actor=actor, action=outcome.value, note=note)
    return case


def list_cases(
    session: Session, *, robot_id: uuid.UUID | None, open_only: bool, limit: int
) -> list[ReviewCase]:
    """Cases newest first: one robot's or all robots', open ones only or all."""
    return repository.cases(session, robot_id=robot_id, open_only=open_only, limit=limit)


def case_with_audit(session: Session, case_id: int) -> tuple[ReviewCase, list[ReviewCaseAction]]:
    """One case (locked until the caller's transaction ends) with its audit, oldest first."""
    case = repository.case_for_update(session, case_id)
    if case is None:
        raise CaseNotFoundError(f"no review case {case_id}")
    return case, repository.actions(session, case_id)


def open_cases(session: Session, robot_id: uuid.UUID) -> list[ReviewCase]:
    """The robot's open cases (at most one per category), newest first."""
    return repository.cases(session, robot_id=robot_id, open_only=True, limit=len(CaseCategory))


def open_cases_column(robot_id: SQLColumnExpression[uuid.UUID]) -> ScalarSelect[Any]:
    """A column for another domain's query: the robot's open cases (what ``open_cases``
    returns) as a JSON array of objects, in the same order."""
    return repository.open_cases_json(robot_id, limit=len(CaseCategory))


def has_open_case(
    robot_id: SQLColumnExpression[uuid.UUID], category: CaseCategory | None = None
) -> Exists:
    """A condition for another domain's query: the robot (its id column) has an open case, of
    ``category`` or of any. The reviews domain keeps what "open" means."""
    return repository.open_case_exists(robot_id, None if category is None else category.value)
