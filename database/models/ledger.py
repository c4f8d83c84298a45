"""The double-entry ledger: journal entries and their lines, append-only.

Each line moves an amount of one account in one currency, in integer minor units: a debit is
positive, a credit negative. The lines of an entry sum to zero in each currency; the database
checks it after every statement that inserts lines, for every entry the statement touched (a
trigger FOR EACH STATEMENT, migration 0010: an entry's lines are written by one statement), and
refuses any UPDATE or DELETE of an entry or a line: a mistake is corrected by a reversing
entry. ``reference`` names what posted the entry (for example ``policy:<id>:v3``): posting the
same thing twice is refused by its uniqueness, which is what makes the jobs that post
idempotent.
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
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class Account(enum.StrEnum):
    """The accounts of the ledger (the sign each one normally carries in brackets).

    Written premium is a memorandum pair: ``written_premium`` (credit) against
    ``written_premium_memo`` (debit), posted with every write so that earned plus unearned can
    be checked against what was written."""

    PREMIUM_RECEIVABLE = "premium_receivable"  # asset (debit)
    CASH = "cash"  # asset (debit)
    UNEARNED_PREMIUM = "unearned_premium"  # liability (credit)
    EARNED_PREMIUM = "earned_premium"  # revenue (credit)
    PREMIUM_TAX_PAYABLE = "premium_tax_payable"  # liability (credit)
    REFUNDS_PAYABLE = "refunds_payable"  # liability (credit)
    INSTALLMENT_FEES = "installment_fees"  # revenue (credit)
    WRITTEN_PREMIUM = "written_premium"  # memorandum (credit)
    WRITTEN_PREMIUM_MEMO = "written_premium_memo"  # memorandum (debit)
    CLAIMS_INCURRED = "claims_incurred"  # expense (debit): reserves set and payments over them
    CLAIM_RESERVES = "claim_reserves"  # liability (credit): outstanding case reserves
    CLAIMS_PAYABLE = "claims_payable"  # liability (credit): approved, owed to the policyholder
    CLAIM_RECOVERIES = "claim_recoveries"  # contra-expense (credit): recovered from third parties


ACCOUNTS_SQL = "(" + ", ".join(f"'{a.value}'" for a in Account) + ")"


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_policy_id_booked_on", "policy_id", "booked_on"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    policy_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("policies.id"))
    kind: Mapped[str] = mapped_column(String(24))
    reference: Mapped[str] = mapped_column(String(120), unique=True)
    booked_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    memo: Mapped[str] = mapped_column(String(200))


class LedgerLine(Base):
    __tablename__ = "ledger_lines"
    __table_args__ = (
        CheckConstraint(f"account IN {ACCOUNTS_SQL}", name="account_valid"),
        CheckConstraint("amount_minor <> 0", name="amount_nonzero"),
        CheckConstraint(r"currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        Index("ix_ledger_lines_entry_id", "entry_id"),
        Index("ix_ledger_lines_account_currency", "account", "currency"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    account: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger, comment="debit positive, credit negative")
