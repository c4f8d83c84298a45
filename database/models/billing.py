"""Invoices and payments.

A policy's premium and tax are asked for by invoices: one per installment of its plan (annual,
quarterly, monthly, each with the product's fee), an adjustment when an endorsement or a
reinstatement raises the premium, and a credit note (negative amounts, open until refunded)
when a return of premium is more than the unpaid invoices it voids. Each invoice has lines
per robot and coverage, a tax line and a fee line. A payment settles an invoice: by card through
the payment processor (pending until the processor says, by its answer or its signed webhook,
whichever comes first) or by bank transfer recorded by a billing agent. Amounts are integer
minor units of the policy's currency.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class InstallmentPlan(enum.StrEnum):
    ANNUAL = "annual"
    QUARTERLY = "quarterly"
    MONTHLY = "monthly"

    @property
    def parts(self) -> int:
        return {"annual": 1, "quarterly": 4, "monthly": 12}[self.value]


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("kind IN ('installment', 'adjustment', 'credit')", name="kind_valid"),
        CheckConstraint("status IN ('open', 'paid', 'void')", name="status_valid"),
        CheckConstraint(
            "total_minor = premium_minor + tax_minor + fee_minor", name="total_is_the_sum"
        ),
        CheckConstraint("paid_minor >= 0", name="paid_nonnegative"),
        CheckConstraint("paid_minor <= greatest(total_minor, 0)", name="paid_at_most_total"),
        Index("ix_invoices_policy_id_due_on", "policy_id", "due_on"),
        Index("ix_invoices_status_due_on", "status", "due_on"),
        Index(
            "ix_invoices_due_on_untold",
            "due_on",
            postgresql_where=text("status = 'open' AND due_notice_at IS NULL AND kind <> 'credit'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    number: Mapped[str] = mapped_column(String(24), unique=True)
    reference: Mapped[str] = mapped_column(
        String(120), unique=True, comment="what made it: a job's retry makes it once"
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    kind: Mapped[str] = mapped_column(String(16))
    installment: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_on: Mapped[date] = mapped_column(Date)
    premium_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    paid_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(8), server_default=InvoiceStatus.OPEN.value)
    reminders_sent: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    due_notice_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        comment="when its tenant was told it falls due (invoice_due); once per invoice",
    )


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("kind IN ('premium', 'tax', 'fee')", name="kind_valid"),
        Index("ix_invoice_lines_invoice_id", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"))
    kind: Mapped[str] = mapped_column(String(8))
    robot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("robots.id"))
    coverage: Mapped[str | None] = mapped_column(String(40))
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("processor_charge_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("method IN ('card', 'bank_transfer', 'refund')", name="method_valid"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_valid"),
        Index("ix_payments_invoice_id", "invoice_id"),
        Index("ix_payments_status", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), server_default=PaymentStatus.PENDING.value)
    card_token: Mapped[str | None] = mapped_column(String(200))
    processor_charge_id: Mapped[str | None] = mapped_column(String(100))
    bank_reference: Mapped[str | None] = mapped_column(String(140))
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="when the charge job calls the processor again"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(100))


class ProcessorEvent(Base):
    """A webhook of the payment processor, kept once by its event id (a duplicate is a no-op)."""

    __tablename__ = "processor_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    charge_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
