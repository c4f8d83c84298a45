"""Quotes and policies.

A quote prices robots and coverages of one tenant under a product version and the approved
rating plan, one line per robot and coverage in minor units (rounded once, where the line is
made), and expires. Binding an open quote makes a policy; every change of a policy is a new
row of ``policy_versions`` (none is updated or deleted), effective from an instant: what was in
force at any instant is the version with the latest ``effective_from`` not after it (the
latest recorded among equals).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class QuoteStatus(enum.StrEnum):
    OPEN = "open"
    BOUND = "bound"


class Quote(Base):
    __tablename__ = "quotes"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'bound')", name="status_valid"),
        CheckConstraint("expires_at > created_at", name="expiry_after_creation"),
        CheckConstraint("term_end > term_start", name="term_ordered"),
        CheckConstraint("premium_minor >= 0 AND tax_minor >= 0", name="amounts_nonnegative"),
        Index("ix_quotes_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    plan_version: Mapped[int] = mapped_column(ForeignKey("rating_plans.version"))
    status: Mapped[str] = mapped_column(String(16), server_default=QuoteStatus.OPEN.value)
    jurisdiction: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    term_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    term_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    premium_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    renewal_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("policies.id", use_alter=True), comment="the policy whose next term this prices"
    )


class QuoteLine(Base):
    """One robot and coverage of a quote: the annual premium in minor units, where it came from
    (the robot's latest score, or its class's reference premium without telemetry) and why."""

    __tablename__ = "quote_lines"
    __table_args__ = (
        UniqueConstraint("quote_id", "robot_id", "coverage"),
        CheckConstraint("premium_minor >= 0", name="premium_nonnegative"),
        CheckConstraint("source IN ('score', 'class_reference')", name="source_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    quote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quotes.id"))
    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"))
    coverage: Mapped[str] = mapped_column(String(40))
    premium_minor: Mapped[int] = mapped_column(BigInteger)
    rated_premium: Mapped[float] = mapped_column(
        Double, comment="the risk engine's annual premium for this coverage, before rounding"
    )
    source: Mapped[str] = mapped_column(String(16))
    score_id: Mapped[int | None] = mapped_column(ForeignKey("risk_scores.id"))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB)


class PolicyStatus(enum.StrEnum):
    BOUND = "bound"
    IN_FORCE = "in_force"
    CANCELLED = "cancelled"
    LAPSED = "lapsed"
    EXPIRED = "expired"


POLICY_STATUSES_SQL = "('bound', 'in_force', 'cancelled', 'lapsed', 'expired')"


class Policy(Base):
    __tablename__ = "policies"
    __table_args__ = (
        CheckConstraint(f"status IN {POLICY_STATUSES_SQL}", name="status_valid"),
        CheckConstraint("term_end > term_start", name="term_ordered"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("status = 'bound' OR number IS NOT NULL", name="issued_has_number"),
        CheckConstraint(
            "installments IN ('annual', 'quarterly', 'monthly')", name="installments_valid"
        ),
        Index("ix_policies_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    quote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quotes.id"), unique=True)
    renewal_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("policies.id"))
    status: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    term_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    term_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, comment="the latest version's number")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    installments: Mapped[str] = mapped_column(
        String(12), server_default="annual", comment="annual, quarterly or monthly"
    )
    earned_minor: Mapped[int] = mapped_column(
        BigInteger,
        server_default=text("0"),
        comment="premium earned to date, as the earning job posted it to the ledger",
    )


class PolicyVersion(Base):
    """One change of a policy, kept for ever: the state after it, from when it takes effect,
    the schedule of robots and coverages then in force (premiums for the whole term), and the
    premium it charged (positive) or returned (negative), pro rata by day."""

    __tablename__ = "policy_versions"
    __table_args__ = (
        UniqueConstraint("policy_id", "version_no"),
        CheckConstraint(f"status IN {POLICY_STATUSES_SQL}", name="status_valid"),
        CheckConstraint("term_premium_minor >= 0", name="term_premium_nonnegative"),
        Index("ix_policy_versions_policy_id_effective_from", "policy_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    version_no: Mapped[int] = mapped_column(Integer)
    transition: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    actor: Mapped[str] = mapped_column(String(100))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    backdated: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    term_premium_minor: Mapped[int] = mapped_column(BigInteger)
    premium_change_minor: Mapped[int] = mapped_column(BigInteger)
    tax_change_minor: Mapped[int] = mapped_column(BigInteger)
    retained_minor: Mapped[int] = mapped_column(
        BigInteger, server_default=text("0"), comment="short-rate penalty kept on cancellation"
    )
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


class ProposalStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    DECLINED = "declined"


class EndorsementProposal(Base):
    """A change of premium the risk engine's scores ask for, proposed for a policy's next
    billing period (one per policy and period): the lines whose premium moved, with the
    robots' top reasons. An underwriter approves (it is endorsed from ``effective_on``) or
    declines it; a change under the product's threshold is approved by the job itself."""

    __tablename__ = "endorsement_proposals"
    __table_args__ = (
        UniqueConstraint("policy_id", "effective_on"),
        CheckConstraint("status IN ('proposed', 'approved', 'declined')", name="status_valid"),
        Index("ix_endorsement_proposals_status_created_at", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    effective_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), server_default=ProposalStatus.PROPOSED.value)
    term_premium_minor: Mapped[int] = mapped_column(BigInteger, comment="the schedule's now")
    proposed_term_premium_minor: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    auto_approved: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(100))
