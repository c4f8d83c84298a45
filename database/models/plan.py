"""Rating plans: the plan itself as JSON (risk_engine.plans.schema.RatingPlan), its version, its
effective dates, and who approved it. Only an approved plan rates; every score keeps its version."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Integer,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from database.base import Base

rating_plans = Table(
    "rating_plans",
    Base.metadata,
    Column("version", Integer, Identity(), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False, server_default="draft"),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("effective_to", DateTime(timezone=True)),
    Column("currency", String(3), nullable=False),
    Column("body", JSONB, nullable=False, comment="the plan: base rates, factors, loadings, ..."),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", String(100), nullable=False),
    Column("approved_by", String(100)),
    Column("approved_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('draft', 'approved', 'retired')", name="status_valid"),
    CheckConstraint(
        "status = 'draft' OR (approved_by IS NOT NULL AND approved_at IS NOT NULL)",
        name="approved_has_approver",
    ),
    CheckConstraint(
        "effective_to IS NULL OR effective_to > effective_from", name="effective_range"
    ),
)
