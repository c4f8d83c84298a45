"""The history of every robot's risk and premium: one row per score, with the plan version, the
features it was rated on, each factor's contribution and the reasons for the change."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from database.base import Base

SCORE_FIGURES = (
    "annual_hours",
    "expected_frequency",
    "expected_severity",
    "pure_premium",
    "credibility",
    "experience_mod",
    "technical_premium",
    "reference_premium",
    "premium",
)

risk_scores = Table(
    "risk_scores",
    Base.metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("robot_id", Uuid, ForeignKey("robots.id"), nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("plan_version", Integer, ForeignKey("rating_plans.version"), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    *(Column(name, Double, nullable=False) for name in SCORE_FIGURES),
    Column("features", JSONB, nullable=False),
    Column("contributions", JSONB, nullable=False, comment="log-scale, per factor"),
    Column("reasons", JSONB, nullable=False, comment="top four increases, largest first"),
    CheckConstraint("trigger IN ('schedule', 'severe_event', 'on_demand')", name="trigger_valid"),
    Index(
        "ix_risk_scores_robot_id_period_start_scored_at", "robot_id", "period_start", "scored_at"
    ),
)
