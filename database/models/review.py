"""Review cases: what the ingest found suspicious about a robot, for a person to decide.

A bad signature or a broken chain once set a permanent tamper flag; now it opens (or adds
evidence to) the robot's open case of its category, which staff clear or confirm with a reason.
Pricing reads open tamper cases as it read the flag.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class CaseCategory(enum.StrEnum):
    TAMPER = "tamper"
    """Evidence against the data itself: a bad signature, a fork, a broken link, a status that
    contradicts the chain. Priced as the tamper flag was."""
    CONDUCT = "conduct"
    """A robot behaving outside its budgets or the protocol's rules (floods of refused
    messages, a full metric catalogue, a chain that went backwards): reviewed, not priced."""


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLEARED = "cleared"
    """Staff found an innocent explanation."""
    CONFIRMED = "confirmed"
    """Staff confirmed it: the robot's data is not to be trusted for the period concerned."""


class ReviewCase(Base):
    __tablename__ = "review_cases"
    __table_args__ = (
        CheckConstraint("category IN ('tamper', 'conduct')", name="category_valid"),
        CheckConstraint("status IN ('open', 'cleared', 'confirmed')", name="status_valid"),
        CheckConstraint("(status = 'open') = (resolved_at IS NULL)", name="resolved_when_closed"),
        Index(
            "ix_review_cases_open",
            "robot_id",
            "category",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), index=True)
    category: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(60), comment="what opened the case")
    status: Mapped[str] = mapped_column(String(16), server_default=CaseStatus.OPEN.value)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_evidence_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb"), comment="the first 100 items of evidence"
    )
    evidence_count: Mapped[int] = mapped_column(Integer, server_default="0")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class ReviewCaseAction(Base):
    """The audit of a case: who did what to it, when and why (opening included)."""

    __tablename__ = "review_case_actions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, server_default="")
