"""claim payouts: a claim paid out through the payment processor, one pending at a time

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_payouts",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payee_token", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processor_payout_id", sa.String(length=100), nullable=True),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')",
            name=op.f("ck_claim_payouts_status_valid"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_claim_payouts_amount_positive")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_payouts_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_payouts")),
    )
    op.create_index("ix_claim_payouts_claim_id", "claim_payouts", ["claim_id"], unique=False)
    op.create_index(
        "ix_claim_payouts_due",
        "claim_payouts",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "uq_claim_payouts_one_pending",
        "claim_payouts",
        ["claim_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_claim_payouts_one_pending",
        table_name="claim_payouts",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(
        "ix_claim_payouts_due",
        table_name="claim_payouts",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_claim_payouts_claim_id", table_name="claim_payouts")
    op.drop_table("claim_payouts")
