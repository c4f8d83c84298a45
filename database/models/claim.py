"""Claims: a loss a policyholder (or the insurer's staff) reports on an insured robot, checked
against the policy version in force at the time of loss, triaged, assessed by an adjuster with
reserves by cost type, approved or denied, paid with the deductible applied and the limits
respected, recovered from third parties, closed and reopened.

A claim's history is append-only: every transition, note, reserve change, payment and
recovery is a row of ``claim_events`` (and reserves a row of ``claim_reserves``); the claim row
holds the current state. Money is integer minor units of the policy's currency.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class ClaimStatus(enum.StrEnum):
    REPORTED = "reported"
    TRIAGED = "triaged"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    DENIED = "denied"
    PAID = "paid"
    CLOSED = "closed"


class CostType(enum.StrEnum):
    """What a reserve (and a payment) is for."""

    REPAIR = "repair"
    REPLACEMENT = "replacement"
    THIRD_PARTY = "third_party"
    BUSINESS_INTERRUPTION = "business_interruption"
    EXPENSES = "expenses"


CLAIM_STATUSES_SQL = "(" + ", ".join(f"'{s.value}'" for s in ClaimStatus) + ")"
COST_TYPES_SQL = "(" + ", ".join(f"'{c.value}'" for c in CostType) + ")"


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(f"status IN {CLAIM_STATUSES_SQL}", name="status_valid"),
        CheckConstraint("paid_minor >= 0 AND recovered_minor >= 0", name="money_nonnegative"),
        CheckConstraint(
            "limit_minor >= 0 AND deductible_minor >= 0 AND aggregate_minor >= 0",
            name="terms_nonnegative",
        ),
        Index("ix_claims_tenant_id_reported_at", "tenant_id", "reported_at"),
        Index("ix_claims_policy_id_coverage", "policy_id", "coverage"),
        Index("ix_claims_robot_id_loss_at", "robot_id", "loss_at"),
        Index("ix_claims_status_reported_at", "status", "reported_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    number: Mapped[str] = mapped_column(String(20), unique=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    policy_version_no: Mapped[int | None] = mapped_column(
        Integer, comment="the policy's version in force at the time of loss, if any"
    )
    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"))
    coverage: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), server_default=ClaimStatus.REPORTED.value)
    loss_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_by: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    estimated_loss_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    covered: Mapped[bool] = mapped_column(Boolean)
    coverage_check: Mapped[dict[str, Any]] = mapped_column(
        JSONB, comment="the check at first notice: covered, reasons, terms, aggregate used"
    )
    limit_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    deductible_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    aggregate_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    severity: Mapped[str | None] = mapped_column(String(12))
    fast_track: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    adjuster_id: Mapped[uuid.UUID | None]
    decision_code: Mapped[str | None] = mapped_column(String(40))
    agreed_loss_minor: Mapped[int | None] = mapped_column(
        BigInteger, comment="the loss the adjuster agreed, before the deductible"
    )
    payable_minor: Mapped[int | None] = mapped_column(
        BigInteger, comment="what the policy pays: deductible applied, limits respected"
    )
    paid_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    recovered_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClaimEvent(Base):
    """One thing that happened to a claim, kept for ever: a transition (from, to, reason), a
    note, a reserve change, a payment or a recovery. ``internal`` events are the insurer's own
    (reserves, adjusters' notes) and are not shown to the policyholder."""

    __tablename__ = "claim_events"
    __table_args__ = (Index("ix_claim_events_claim_id_id", "claim_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), comment="transition, note, reserve, payment...")
    transition: Mapped[str | None] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class ClaimReserve(Base):
    """A reserve set on a claim for one cost type: the new amount and the change, append-only;
    a cost type's reserve is its latest row."""

    __tablename__ = "claim_reserves"
    __table_args__ = (
        CheckConstraint(f"cost_type IN {COST_TYPES_SQL}", name="cost_type_valid"),
        CheckConstraint("amount_minor >= 0", name="amount_nonnegative"),
        Index("ix_claim_reserves_claim_id_id", "claim_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    cost_type: Mapped[str] = mapped_column(String(24))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    change_minor: Mapped[int] = mapped_column(BigInteger)
    cause: Mapped[str] = mapped_column(String(16), comment="set, payment, release")
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    set_by: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class ClaimEvidence(Base):
    """The robot's own account around the time of loss, frozen at first notice: a snapshot of
    its events, key metrics, chain and clock, online spans and open tamper cases, with the
    validation flags computed from it and the SHA-256 digest of its canonical JSON, so that a
    later change to the stored snapshot is detectable. Append-only."""

    __tablename__ = "claim_evidence"
    __table_args__ = (CheckConstraint("octet_length(digest) = 32", name="digest_length"),)

    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ClaimAttachment(Base):
    """A file attached to a claim (a photo, a repair estimate): kept by the attachment store
    under a key of our own making; its name, type, size and SHA-256 here."""

    __tablename__ = "claim_attachments"
    __table_args__ = (
        CheckConstraint("octet_length(sha256) = 32", name="sha256_length"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        Index("ix_claim_attachments_claim_id", "claim_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[bytes] = mapped_column(LargeBinary)
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClaimPayout(Base):
    """A claim's payable amount paid out through the payment processor to the payee's account
    (tokenized there): asked for by an adjuster, sent by the jobs worker outside any
    transaction (its id is the processor's Idempotency-Key), and settled once: the claim is
    paid when the processor says the payout succeeded."""

    __tablename__ = "claim_payouts"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_valid"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_claim_payouts_claim_id", "claim_id"),
        Index(
            "ix_claim_payouts_due", "next_attempt_at", postgresql_where=text("status = 'pending'")
        ),
        Index(
            "uq_claim_payouts_one_pending",
            "claim_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payee_token: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    processor_payout_id: Mapped[str | None] = mapped_column(String(100))
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
