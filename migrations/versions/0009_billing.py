"""billing: invoices, their lines, payments, the processor's webhook events

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 13:15:00

A policy's installment plan; a revenue account for installment fees (the ledger's account check
is replaced); invoice numbers from a sequence.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processor_events",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("charge_id", sa.String(length=100), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processor_events")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column(
            "reference",
            sa.String(length=120),
            nullable=False,
            comment="what made it: a job's retry makes it once",
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("installment", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("premium_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.String(length=8), server_default="open", nullable=False),
        sa.Column("reminders_sent", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('installment', 'adjustment', 'credit')", name=op.f("ck_invoices_kind_valid")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'paid', 'void')", name=op.f("ck_invoices_status_valid")
        ),
        sa.CheckConstraint("paid_minor >= 0", name=op.f("ck_invoices_paid_nonnegative")),
        sa.CheckConstraint(
            "paid_minor <= greatest(total_minor, 0)", name=op.f("ck_invoices_paid_at_most_total")
        ),
        sa.CheckConstraint(
            "total_minor = premium_minor + tax_minor + fee_minor",
            name=op.f("ck_invoices_total_is_the_sum"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_invoices_policy_id_policies")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_invoices_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
        sa.UniqueConstraint("reference", name=op.f("uq_invoices_reference")),
    )
    op.create_index(
        "ix_invoices_policy_id_due_on", "invoices", ["policy_id", "due_on"], unique=False
    )
    op.create_index("ix_invoices_status_due_on", "invoices", ["status", "due_on"], unique=False)
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("robot_id", sa.Uuid(), nullable=True),
        sa.Column("coverage", sa.String(length=40), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('premium', 'tax', 'fee')", name=op.f("ck_invoice_lines_kind_valid")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_invoice_lines_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    op.create_index("ix_invoice_lines_invoice_id", "invoice_lines", ["invoice_id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("card_token", sa.String(length=200), nullable=True),
        sa.Column("processor_charge_id", sa.String(length=100), nullable=True),
        sa.Column("bank_reference", sa.String(length=140), nullable=True),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="when the charge job calls the processor again",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "method IN ('card', 'bank_transfer', 'refund')", name=op.f("ck_payments_method_valid")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_payments_status_valid")
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_payments_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("processor_charge_id", name=op.f("uq_payments_processor_charge_id")),
    )
    op.create_index("ix_payments_invoice_id", "payments", ["invoice_id"], unique=False)
    op.create_index("ix_payments_status", "payments", ["status"], unique=False)
    op.add_column(
        "policies",
        sa.Column(
            "installments",
            sa.String(length=12),
            server_default="annual",
            nullable=False,
            comment="annual, quarterly or monthly",
        ),
    )
    op.create_table(
        "endorsement_proposals",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="proposed", nullable=False),
        sa.Column(
            "term_premium_minor", sa.BigInteger(), nullable=False, comment="the schedule's now"
        ),
        sa.Column("proposed_term_premium_minor", sa.BigInteger(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("auto_approved", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'declined')",
            name=op.f("ck_endorsement_proposals_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
            name=op.f("fk_endorsement_proposals_policy_id_policies"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_endorsement_proposals_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endorsement_proposals")),
        sa.UniqueConstraint(
            "policy_id",
            "effective_on",
            name=op.f("uq_endorsement_proposals_policy_id_effective_on"),
        ),
    )
    op.create_index(
        "ix_endorsement_proposals_status_created_at",
        "endorsement_proposals",
        ["status", "created_at"],
        unique=False,
    )
    op.add_column(
        "policies",
        sa.Column(
            "earned_minor",
            sa.BigInteger(),
            server_default=sa.text("0"),
            nullable=False,
            comment="premium earned to date, as the earning job posted it to the ledger",
        ),
    )
    op.create_check_constraint(
        op.f("ck_policies_installments_valid"),
        "policies",
        "installments IN ('annual', 'quarterly', 'monthly')",
    )
    op.drop_constraint(op.f("ck_ledger_lines_account_valid"), "ledger_lines", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_lines_account_valid"), "ledger_lines", f"account IN {_ACCOUNTS}"
    )
    op.execute("CREATE SEQUENCE invoice_number_seq")


_OLD_ACCOUNTS = (
    "('premium_receivable', 'cash', 'unearned_premium', 'earned_premium', 'premium_tax_payable',"
    " 'refunds_payable', 'written_premium', 'written_premium_memo')"
)
_ACCOUNTS = _OLD_ACCOUNTS[:-1] + ", 'installment_fees')"


def downgrade() -> None:
    op.drop_index("ix_endorsement_proposals_status_created_at", table_name="endorsement_proposals")
    op.drop_table("endorsement_proposals")
    op.execute("DROP SEQUENCE invoice_number_seq")
    op.drop_constraint(op.f("ck_ledger_lines_account_valid"), "ledger_lines", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_lines_account_valid"), "ledger_lines", f"account IN {_OLD_ACCOUNTS}"
    )
    op.drop_constraint(op.f("ck_policies_installments_valid"), "policies", type_="check")
    op.drop_column("policies", "earned_minor")
    op.drop_column("policies", "installments")
    op.drop_index("ix_payments_status", table_name="payments")
    op.drop_index("ix_payments_invoice_id", table_name="payments")
    op.drop_table("payments")
    op.drop_index("ix_invoice_lines_invoice_id", table_name="invoice_lines")
    op.drop_table("invoice_lines")
    op.drop_index("ix_invoices_status_due_on", table_name="invoices")
    op.drop_index("ix_invoices_policy_id_due_on", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("processor_events")
