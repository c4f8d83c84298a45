"""robot path hardening: keys by chain position, credential rotations, review cases instead of
the tamper flag, dead-letter budgets, per-tenant metric catalogues with integer ids, presence by
connection, voided enrollment tokens

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    _robot_columns()
    _robot_keys()
    _credential_rotations()
    _robot_actions()
    _review_cases()
    _dead_letters()
    _metric_catalogues()
    op.alter_column("drop_notices", "dropped_samples", type_=sa.BigInteger())
    op.add_column("enrollment_tokens", sa.Column("voided_at", TIMESTAMP, nullable=True))
    op.execute(
        "COMMENT ON COLUMN enrollment_tokens.voided_at IS 'a newer token was issued for the robot'"
    )


def _robot_columns() -> None:
    op.add_column(
        "robots",
        sa.Column(
            "presence_connection_seq",
            sa.BigInteger(),
            nullable=True,
            comment="connection_seq of the status applied last (protocol 1.2)",
        ),
    )
    op.add_column(
        "robots",
        sa.Column(
            "presence_state",
            sa.SmallInteger(),
            nullable=True,
            comment="state of the status applied last: 1 online, 2 offline",
        ),
    )
    op.add_column(
        "robots",
        sa.Column(
            "status_reason",
            sa.String(length=200),
            nullable=True,
            comment="why staff suspended or revoked the robot",
        ),
    )
    op.add_column("robots", sa.Column("status_changed_at", TIMESTAMP, nullable=True))


def _robot_keys() -> None:
    op.create_table(
        "robot_keys",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("rotation_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=_now(), nullable=False),
        sa.Column("retired_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "octet_length(public_key) = 32", name=op.f("ck_robot_keys_ed25519_key_length")
        ),
        sa.CheckConstraint(
            "last_seq IS NULL OR first_seq <= last_seq + 1",
            name=op.f("ck_robot_keys_range_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_robot_keys_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("robot_id", "first_seq", name=op.f("pk_robot_keys")),
        sa.UniqueConstraint("public_key", name=op.f("uq_robot_keys_public_key")),
    )
    op.create_index(
        "ix_robot_keys_current",
        "robot_keys",
        ["robot_id"],
        unique=True,
        postgresql_where=sa.text("last_seq IS NULL"),
    )
    op.execute(
        "INSERT INTO robot_keys (robot_id, first_seq, public_key, created_at)"
        " SELECT id, 0, signing_public_key, coalesce(enrolled_at, created_at) FROM robots"
        " WHERE signing_public_key IS NOT NULL"
    )


def _credential_rotations() -> None:
    op.create_table(
        "credential_rotations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="requested", nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", TIMESTAMP, server_default=_now(), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("old_mqtt_username", sa.String(length=128), nullable=True),
        sa.Column("new_mqtt_username", sa.String(length=128), nullable=False),
        sa.Column("config_version", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_at", TIMESTAMP, nullable=True),
        sa.Column("confirmed_seq", sa.BigInteger(), nullable=True),
        sa.Column("new_public_key", sa.LargeBinary(), nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint(
            "state IN ('requested', 'confirmed', 'completed', 'cancelled')",
            name=op.f("ck_credential_rotations_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_credential_rotations_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_rotations")),
        sa.UniqueConstraint(
            "new_mqtt_username", name=op.f("uq_credential_rotations_new_mqtt_username")
        ),
    )
    op.create_index(op.f("ix_credential_rotations_robot_id"), "credential_rotations", ["robot_id"])
    op.create_index(
        "ix_credential_rotations_pending",
        "credential_rotations",
        ["robot_id"],
        unique=True,
        postgresql_where=sa.text("state IN ('requested', 'confirmed')"),
    )


def _robot_actions() -> None:
    op.create_table(
        "robot_actions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("at", TIMESTAMP, server_default=_now(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_robot_actions_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robot_actions")),
    )
    op.create_index(op.f("ix_robot_actions_robot_id"), "robot_actions", ["robot_id"])


def _review_cases() -> None:
    op.create_table(
        "review_cases",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=False, comment="what opened the case"),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("opened_at", TIMESTAMP, server_default=_now(), nullable=False),
        sa.Column("last_evidence_at", TIMESTAMP, server_default=_now(), nullable=False),
        sa.Column(
            "evidence",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
            comment="the first 100 items of evidence",
        ),
        sa.Column("evidence_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "category IN ('tamper', 'conduct')", name=op.f("ck_review_cases_category_valid")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'cleared', 'confirmed')", name=op.f("ck_review_cases_status_valid")
        ),
        sa.CheckConstraint(
            "(status = 'open') = (resolved_at IS NULL)",
            name=op.f("ck_review_cases_resolved_when_closed"),
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_review_cases_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cases")),
    )
    op.create_index(op.f("ix_review_cases_robot_id"), "review_cases", ["robot_id"])
    op.create_index(
        "ix_review_cases_open",
        "review_cases",
        ["robot_id", "category"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "review_case_actions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("at", TIMESTAMP, server_default=_now(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_cases.id"],
            name=op.f("fk_review_case_actions_case_id_review_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_case_actions")),
    )
    op.create_index(op.f("ix_review_case_actions_case_id"), "review_case_actions", ["case_id"])
    # The tamper flags become open tamper cases, their reason kept.
    op.execute(
        "INSERT INTO review_cases (robot_id, category, reason, opened_at, last_evidence_at,"
        " evidence, evidence_count) SELECT id, 'tamper', coalesce(tamper_reason, 'tamper_flag'),"
        " tamper_flagged_at, tamper_flagged_at, '[]'::jsonb, 0 FROM robots"
        " WHERE tamper_flagged_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO review_case_actions (case_id, at, actor, action, note)"
        " SELECT id, opened_at, 'migration 0004', 'opened', 'from the tamper flag'"
        " FROM review_cases"
    )
    op.drop_column("robots", "tamper_flagged_at")
    op.drop_column("robots", "tamper_reason")


def _dead_letters() -> None:
    # Hypertables take no identity column: a sequence feeds the id.
    op.execute("CREATE SEQUENCE dead_letters_id_seq AS bigint")
    op.add_column(
        "dead_letters",
        sa.Column(
            "id",
            sa.BigInteger(),
            server_default=sa.text("nextval('dead_letters_id_seq'::regclass)"),
            nullable=False,
        ),
    )
    op.add_column(
        "dead_letters",
        sa.Column(
            "tenant",
            sa.String(length=32),
            nullable=True,
            comment="the topic's tenant, when the topic parses",
        ),
    )
    op.create_table(
        "dead_letter_tally",
        sa.Column(
            "scope",
            sa.String(length=64),
            nullable=False,
            comment="robot:<uuid>, tenant:<slug> or unattributed",
        ),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("stored_messages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "counted_messages",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="past the budget: counted, not stored",
        ),
        sa.Column("counted_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "scope", "window_start", "reason", name=op.f("pk_dead_letter_tally")
        ),
    )


def _metric_catalogues() -> None:
    op.alter_column("metrics", "id", type_=sa.Integer())
    op.execute("ALTER SEQUENCE metrics_id_seq AS integer")
    op.alter_column("telemetry", "metric_id", type_=sa.Integer())
    op.alter_column("telemetry_hourly", "metric_id", type_=sa.Integer())
    op.create_table(
        "tenant_metrics",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("metric_id", sa.Integer(), nullable=False),
        sa.Column("registered_at", TIMESTAMP, server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["metric_id"], ["metrics.id"], name=op.f("fk_tenant_metrics_metric_id_metrics")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_metrics_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "metric_id", name=op.f("pk_tenant_metrics")),
    )
    # Each tenant's catalogue: the keys its robots have reported so far.
    op.execute(
        "INSERT INTO tenant_metrics (tenant_id, metric_id)"
        " SELECT DISTINCT r.tenant_id, h.metric_id FROM telemetry_hourly h"
        " JOIN robots r ON r.id = h.robot_id"
    )


def downgrade() -> None:
    op.drop_column("enrollment_tokens", "voided_at")
    op.alter_column("drop_notices", "dropped_samples", type_=sa.Integer())
    op.drop_table("tenant_metrics")
    op.alter_column("telemetry_hourly", "metric_id", type_=sa.SmallInteger())
    op.alter_column("telemetry", "metric_id", type_=sa.SmallInteger())
    op.execute("ALTER SEQUENCE metrics_id_seq AS smallint")
    op.alter_column("metrics", "id", type_=sa.SmallInteger())
    op.drop_table("dead_letter_tally")
    op.drop_column("dead_letters", "tenant")
    op.drop_column("dead_letters", "id")
    op.execute("DROP SEQUENCE dead_letters_id_seq")
    op.add_column("robots", sa.Column("tamper_reason", sa.String(length=40), nullable=True))
    op.add_column("robots", sa.Column("tamper_flagged_at", TIMESTAMP, nullable=True))
    op.execute(
        "UPDATE robots r SET tamper_flagged_at = c.opened_at, tamper_reason = left(c.reason, 40)"
        " FROM review_cases c WHERE c.robot_id = r.id AND c.category = 'tamper'"
        " AND c.status = 'open'"
    )
    op.drop_table("review_case_actions")
    op.drop_table("review_cases")
    op.drop_table("robot_actions")
    op.drop_table("credential_rotations")
    op.drop_table("robot_keys")
    op.drop_column("robots", "status_changed_at")
    op.drop_column("robots", "status_reason")
    op.drop_column("robots", "presence_state")
    op.drop_column("robots", "presence_connection_seq")
