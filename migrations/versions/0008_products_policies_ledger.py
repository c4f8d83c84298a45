"""products, quotes, policies and their versions, the double-entry ledger

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:37:43

The ledger and the policies' history are append-only, and the database says so itself:
triggers refuse UPDATE and DELETE of ledger entries and lines and of policy versions, and a
deferred constraint trigger refuses, at commit, an entry whose lines do not sum to zero in
each currency. Policy numbers come from a sequence.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("terms", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]{1,39}$'", name=op.f("ck_products_code_format")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_products_currency_iso")),
        sa.CheckConstraint(
            "status = 'draft' OR (activated_at IS NOT NULL AND activated_by IS NOT NULL)",
            name=op.f("ck_products_activated_has_approver"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'retired')", name=op.f("ck_products_status_valid")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_products_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_products_code_version")),
    )
    op.create_index(
        "ix_products_code_active",
        "products",
        ["code"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "quotes",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("term_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("term_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("premium_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("status IN ('open', 'bound')", name=op.f("ck_quotes_status_valid")),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_quotes_expiry_after_creation")),
        sa.CheckConstraint(
            "premium_minor >= 0 AND tax_minor >= 0", name=op.f("ck_quotes_amounts_nonnegative")
        ),
        sa.CheckConstraint("term_end > term_start", name=op.f("ck_quotes_term_ordered")),
        sa.ForeignKeyConstraint(
            ["plan_version"],
            ["rating_plans.version"],
            name=op.f("fk_quotes_plan_version_rating_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_quotes_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_quotes_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
    )
    op.create_index(
        "ix_quotes_tenant_id_created_at", "quotes", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("renewal_of", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("term_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("term_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, comment="the latest version's number"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status = 'bound' OR number IS NOT NULL", name=op.f("ck_policies_issued_has_number")
        ),
        sa.CheckConstraint(
            "status IN ('bound', 'in_force', 'cancelled', 'lapsed', 'expired')",
            name=op.f("ck_policies_status_valid"),
        ),
        sa.CheckConstraint("term_end > term_start", name=op.f("ck_policies_term_ordered")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_policies_version_positive")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_policies_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quotes.id"], name=op.f("fk_policies_quote_id_quotes")
        ),
        sa.ForeignKeyConstraint(
            ["renewal_of"], ["policies.id"], name=op.f("fk_policies_renewal_of_policies")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_policies_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("number", name=op.f("uq_policies_number")),
        sa.UniqueConstraint("quote_id", name=op.f("uq_policies_quote_id")),
    )
    op.create_index(
        "ix_policies_tenant_id_created_at", "policies", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("memo", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_ledger_entries_policy_id_policies")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_ledger_entries_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("reference", name=op.f("uq_ledger_entries_reference")),
    )
    op.create_index(
        "ix_ledger_entries_policy_id_booked_on",
        "ledger_entries",
        ["policy_id", "booked_on"],
        unique=False,
    )
    op.add_column(
        "quotes",
        sa.Column(
            "renewal_of",
            sa.Uuid(),
            nullable=True,
            comment="the policy whose next term this prices",
        ),
    )
    op.create_foreign_key(
        op.f("fk_quotes_renewal_of_policies"), "quotes", "policies", ["renewal_of"], ["id"]
    )
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("transition", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("backdated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("term_premium_minor", sa.BigInteger(), nullable=False),
        sa.Column("premium_change_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_change_minor", sa.BigInteger(), nullable=False),
        sa.Column(
            "retained_minor",
            sa.BigInteger(),
            server_default=sa.text("0"),
            nullable=False,
            comment="short-rate penalty kept on cancellation",
        ),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "status IN ('bound', 'in_force', 'cancelled', 'lapsed', 'expired')",
            name=op.f("ck_policy_versions_status_valid"),
        ),
        sa.CheckConstraint(
            "term_premium_minor >= 0", name=op.f("ck_policy_versions_term_premium_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_policy_versions_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
        sa.UniqueConstraint(
            "policy_id", "version_no", name=op.f("uq_policy_versions_policy_id_version_no")
        ),
    )
    op.create_index(
        "ix_policy_versions_policy_id_effective_from",
        "policy_versions",
        ["policy_id", "effective_from"],
        unique=False,
    )
    op.create_table(
        "quote_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("coverage", sa.String(length=40), nullable=False),
        sa.Column("premium_minor", sa.BigInteger(), nullable=False),
        sa.Column(
            "rated_premium",
            sa.Double(),
            nullable=False,
            comment="the risk engine's annual premium for this coverage, before rounding",
        ),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("score_id", sa.BigInteger(), nullable=True),
        sa.Column("explanation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "source IN ('score', 'class_reference')", name=op.f("ck_quote_lines_source_valid")
        ),
        sa.CheckConstraint("premium_minor >= 0", name=op.f("ck_quote_lines_premium_nonnegative")),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quotes.id"], name=op.f("fk_quote_lines_quote_id_quotes")
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_quote_lines_robot_id_robots")
        ),
        sa.ForeignKeyConstraint(
            ["score_id"], ["risk_scores.id"], name=op.f("fk_quote_lines_score_id_risk_scores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_lines")),
        sa.UniqueConstraint(
            "quote_id",
            "robot_id",
            "coverage",
            name=op.f("uq_quote_lines_quote_id_robot_id_coverage"),
        ),
    )
    op.create_table(
        "ledger_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "amount_minor",
            sa.BigInteger(),
            nullable=False,
            comment="debit positive, credit negative",
        ),
        sa.CheckConstraint(
            "account IN ('premium_receivable', 'cash', 'unearned_premium', 'earned_premium', 'premium_tax_payable', 'refunds_payable', 'written_premium', 'written_premium_memo')",
            name=op.f("ck_ledger_lines_account_valid"),
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_ledger_lines_currency_iso")),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_ledger_lines_amount_nonzero")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_lines_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lines")),
    )
    op.create_index(
        "ix_ledger_lines_account_currency", "ledger_lines", ["account", "currency"], unique=False
    )
    op.create_index("ix_ledger_lines_entry_id", "ledger_lines", ["entry_id"], unique=False)
    op.execute("CREATE SEQUENCE policy_number_seq")
    op.execute(_APPEND_ONLY)
    op.execute(_BALANCED)
    for table in ("ledger_entries", "ledger_lines", "policy_versions"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION refuse_change()"
        )
    op.execute(
        "CREATE CONSTRAINT TRIGGER ledger_lines_balanced AFTER INSERT ON ledger_lines"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_entry_balanced()"
    )


_APPEND_ONLY = """
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END $$
"""

_BALANCED = """
CREATE FUNCTION check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced text;
BEGIN
    SELECT string_agg(currency || ' ' || total, ', ') INTO unbalanced FROM (
        SELECT currency, sum(amount_minor) AS total FROM ledger_lines
        WHERE entry_id = NEW.entry_id GROUP BY currency HAVING sum(amount_minor) <> 0
    ) AS sums;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % does not balance: %', NEW.entry_id, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$
"""


def downgrade() -> None:
    for table in ("ledger_entries", "ledger_lines", "policy_versions"):
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP TRIGGER ledger_lines_balanced ON ledger_lines")
    op.execute("DROP FUNCTION check_entry_balanced()")
    op.execute("DROP FUNCTION refuse_change()")
    op.execute("DROP SEQUENCE policy_number_seq")
    op.drop_index("ix_ledger_lines_entry_id", table_name="ledger_lines")
    op.drop_index("ix_ledger_lines_account_currency", table_name="ledger_lines")
    op.drop_table("ledger_lines")
    op.drop_table("quote_lines")
    op.drop_constraint(op.f("fk_quotes_renewal_of_policies"), "quotes", type_="foreignkey")
    op.drop_index("ix_policy_versions_policy_id_effective_from", table_name="policy_versions")
    op.drop_table("policy_versions")
    op.drop_index("ix_ledger_entries_policy_id_booked_on", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_policies_tenant_id_created_at", table_name="policies")
    op.drop_table("policies")
    op.drop_index("ix_quotes_tenant_id_created_at", table_name="quotes")
    op.drop_table("quotes")
    op.drop_index("ix_products_code_active", table_name="products")
    op.drop_table("products")
