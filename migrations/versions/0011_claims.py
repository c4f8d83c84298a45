"""claims: first notice of loss, triage, reserves by cost type, decisions, payments,
recoveries; the claim's event history; the telemetry evidence frozen at first notice; the
ledger's claim accounts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:10:00

``claim_events``, ``claim_reserves`` and ``claim_evidence`` are append-only (the trigger of
0008). Claim numbers come from a sequence.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import Text

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_ACCOUNTS = (
    "('premium_receivable', 'cash', 'unearned_premium', 'earned_premium', 'premium_tax_payable',"
    " 'refunds_payable', 'written_premium', 'written_premium_memo', 'installment_fees')"
)
_ACCOUNTS = (
    _OLD_ACCOUNTS[:-1]
    + ", 'claims_incurred', 'claim_reserves', 'claims_payable', 'claim_recoveries')"
)
_APPEND_ONLY = ("claim_events", "claim_reserves", "claim_evidence")


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column(
            "policy_version_no",
            sa.Integer(),
            nullable=True,
            comment="the policy's version in force at the time of loss, if any",
        ),
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("coverage", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="reported", nullable=False),
        sa.Column("loss_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_by", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("estimated_loss_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("covered", sa.Boolean(), nullable=False),
        sa.Column(
            "coverage_check",
            postgresql.JSONB(astext_type=Text()),
            nullable=False,
            comment="the check at first notice: covered, reasons, terms, aggregate used",
        ),
        sa.Column("limit_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("deductible_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("aggregate_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("severity", sa.String(length=12), nullable=True),
        sa.Column("fast_track", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("adjuster_id", sa.Uuid(), nullable=True),
        sa.Column("decision_code", sa.String(length=40), nullable=True),
        sa.Column(
            "agreed_loss_minor",
            sa.BigInteger(),
            nullable=True,
            comment="the loss the adjuster agreed, before the deductible",
        ),
        sa.Column(
            "payable_minor",
            sa.BigInteger(),
            nullable=True,
            comment="what the policy pays: deductible applied, limits respected",
        ),
        sa.Column("paid_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("recovered_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('reported', 'triaged', 'under_review', 'approved', 'denied', 'paid', 'closed')",
            name=op.f("ck_claims_status_valid"),
        ),
        sa.CheckConstraint(
            "limit_minor >= 0 AND deductible_minor >= 0 AND aggregate_minor >= 0",
            name=op.f("ck_claims_terms_nonnegative"),
        ),
        sa.CheckConstraint(
            "paid_minor >= 0 AND recovered_minor >= 0", name=op.f("ck_claims_money_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_claims_policy_id_policies")
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_claims_robot_id_robots")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_claims_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("number", name=op.f("uq_claims_number")),
    )
    op.create_index(
        "ix_claims_policy_id_coverage", "claims", ["policy_id", "coverage"], unique=False
    )
    op.create_index("ix_claims_robot_id_loss_at", "claims", ["robot_id", "loss_at"], unique=False)
    op.create_index(
        "ix_claims_status_reported_at", "claims", ["status", "reported_at"], unique=False
    )
    op.create_index(
        "ix_claims_tenant_id_reported_at", "claims", ["tenant_id", "reported_at"], unique=False
    )
    op.create_table(
        "claim_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=16),
            nullable=False,
            comment="transition, note, reserve, payment...",
        ),
        sa.Column("transition", sa.String(length=16), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("internal", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_events_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_events")),
    )
    op.create_index("ix_claim_events_claim_id_id", "claim_events", ["claim_id", "id"], unique=False)
    op.create_table(
        "claim_evidence",
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("flags", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "octet_length(digest) = 32", name=op.f("ck_claim_evidence_digest_length")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_evidence_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claim_evidence")),
    )
    op.create_table(
        "claim_reserves",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("cost_type", sa.String(length=24), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("change_minor", sa.BigInteger(), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False, comment="set, payment, release"),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "cost_type IN ('repair', 'replacement', 'third_party', 'business_interruption', 'expenses')",
            name=op.f("ck_claim_reserves_cost_type_valid"),
        ),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_claim_reserves_amount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_reserves_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_reserves")),
    )
    op.create_index(
        "ix_claim_reserves_claim_id_id", "claim_reserves", ["claim_id", "id"], unique=False
    )

    for table in _APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION refuse_change()"
        )
    op.execute("CREATE SEQUENCE claim_number_seq")
    _accounts(_ACCOUNTS)


def _accounts(allowed: str) -> None:
    op.drop_constraint(op.f("ck_ledger_lines_account_valid"), "ledger_lines", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_lines_account_valid"), "ledger_lines", f"account IN {allowed}"
    )


def downgrade() -> None:
    _accounts(_OLD_ACCOUNTS)
    op.execute("DROP SEQUENCE claim_number_seq")
    for table in _APPEND_ONLY:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.drop_index("ix_claim_reserves_claim_id_id", table_name="claim_reserves")
    op.drop_table("claim_reserves")
    op.drop_table("claim_evidence")
    op.drop_index("ix_claim_events_claim_id_id", table_name="claim_events")
    op.drop_table("claim_events")
    op.drop_index("ix_claims_tenant_id_reported_at", table_name="claims")
    op.drop_index("ix_claims_status_reported_at", table_name="claims")
    op.drop_index("ix_claims_robot_id_loss_at", table_name="claims")
    op.drop_index("ix_claims_policy_id_coverage", table_name="claims")
    op.drop_table("claims")
