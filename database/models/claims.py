"""Claims experience per robot, rating period and coverage: the input the claims domain feeds.

Until the policy and claims API writes it, rows are loaded by hand or by the simulator. It drives
the credibility blend (actual against expected claims) and, joined to the period's feature state,
the frequency and severity fits."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Uuid,
    func,
)

from database.base import Base

claim_experience = Table(
    "claim_experience",
    Base.metadata,
    Column("robot_id", Uuid, ForeignKey("robots.id"), primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column("coverage", String(40), primary_key=True),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("claim_count", Integer, nullable=False),
    Column("incurred", Numeric(14, 2), nullable=False, comment="paid plus case reserves"),
    Column("exposure_h", Double, nullable=False, comment="earned operating hours"),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("claim_count >= 0", name="claim_count_nonnegative"),
    CheckConstraint("incurred >= 0", name="incurred_nonnegative"),
    CheckConstraint("exposure_h >= 0", name="exposure_nonnegative"),
    CheckConstraint("period_end > period_start", name="period_ordered"),
)
