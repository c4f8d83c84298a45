"""robots, telemetry and events

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


HYPERTABLES = [
    ("telemetry", "time", "1 day"),
    ("telemetry_hourly", "bucket", "30 days"),
    ("robot_events", "time", "7 days"),
    ("dead_letters", "received_at", "7 days"),
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    op.create_table(
        "dead_letters",
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "reason",
            sa.String(length=40),
            nullable=False,
            comment="reason code, e.g. bad_signature",
        ),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "robot_id",
            sa.Uuid(),
            nullable=True,
            comment="the topic's robot, when the topic names a known one",
        ),
    )
    op.create_index(
        "ix_dead_letters_reason_received_at",
        "dead_letters",
        ["reason", "received_at"],
        unique=False,
    )
    op.create_index(
        "ix_dead_letters_robot_id_received_at",
        "dead_letters",
        ["robot_id", "received_at"],
        unique=False,
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.SmallInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("key", sa.String(length=70), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.SmallInteger(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.CheckConstraint("channel BETWEEN 0 AND 255", name=op.f("ck_metrics_channel_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
        sa.UniqueConstraint("key", name=op.f("uq_metrics_key")),
    )
    op.create_table(
        "telemetry",
        sa.Column(
            "time",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="sample time, corrected for skew",
        ),
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("metric_id", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column(
            "seq",
            sa.BigInteger(),
            nullable=False,
            comment="sequence number of the batch it came in",
        ),
    )
    op.create_index("ix_telemetry_robot_id_time", "telemetry", ["robot_id", "time"], unique=False)
    op.create_table(
        "telemetry_hourly",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("metric_id", sa.SmallInteger(), nullable=False),
        sa.Column(
            "bucket", sa.DateTime(timezone=True), nullable=False, comment="start of the hour"
        ),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False, comment="sum of values"),
        sa.Column("total_sq", sa.Double(), nullable=False, comment="sum of squared values"),
        sa.Column("minimum", sa.Double(), nullable=False),
        sa.Column("maximum", sa.Double(), nullable=False),
        sa.Column("last_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_value", sa.Double(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="when a flush last changed the row: readers take what changed since they last read",
        ),
        sa.PrimaryKeyConstraint(
            "robot_id", "metric_id", "bucket", name=op.f("pk_telemetry_hourly")
        ),
    )
    op.create_index(
        "ix_telemetry_hourly_updated_at", "telemetry_hourly", ["updated_at"], unique=False
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("slug", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9][a-z0-9-]{0,31}$'", name=op.f("ck_tenants_slug_format")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended')", name=op.f("ck_tenants_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
    )
    op.create_table(
        "robots",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("serial_number", sa.String(length=64), nullable=False),
        sa.Column("robot_class", sa.String(length=32), nullable=False),
        sa.Column("manufacturer", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("signing_public_key", sa.LargeBinary(), nullable=True),
        sa.Column("mqtt_username", sa.String(length=128), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("chain_head_seq", sa.BigInteger(), nullable=True),
        sa.Column("chain_head_digest", sa.LargeBinary(), nullable=True),
        sa.Column("tamper_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tamper_reason", sa.String(length=40), nullable=True),
        sa.Column("online", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "presence_reported_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="device time of the status report applied last",
        ),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("boot_id", sa.Uuid(), nullable=True),
        sa.Column("firmware_version", sa.String(length=64), nullable=True),
        sa.Column("software_version", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "robot_class IN ('industrial_arm', 'cobot', 'mobile_robot')",
            name=op.f("ck_robots_robot_class_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'revoked')",
            name=op.f("ck_robots_status_valid"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('active') OR signing_public_key IS NOT NULL",
            name=op.f("ck_robots_active_has_key"),
        ),
        sa.CheckConstraint(
            "octet_length(chain_head_digest) = 32", name=op.f("ck_robots_chain_digest_length")
        ),
        sa.CheckConstraint(
            "octet_length(signing_public_key) = 32", name=op.f("ck_robots_ed25519_key_length")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_robots_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robots")),
        sa.UniqueConstraint("mqtt_username", name=op.f("uq_robots_mqtt_username")),
        sa.UniqueConstraint(
            "tenant_id", "serial_number", name=op.f("uq_robots_tenant_id_serial_number")
        ),
    )
    op.create_table(
        "batch_receipts",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("prev_digest", sa.LargeBinary(), nullable=False),
        sa.Column("boot_id", sa.Uuid(), nullable=False),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "clock_offset_s",
            sa.Double(),
            nullable=False,
            comment="device wall clock minus receive time, in seconds",
        ),
        sa.Column(
            "clock_shift_s",
            sa.Double(),
            nullable=False,
            comment="added to the device's times to correct its clock; 0 when trusted",
        ),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "octet_length(digest) = 32", name=op.f("ck_batch_receipts_digest_length")
        ),
        sa.CheckConstraint(
            "octet_length(prev_digest) = 32", name=op.f("ck_batch_receipts_prev_digest_length")
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_batch_receipts_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("robot_id", "seq", name=op.f("pk_batch_receipts")),
    )
    op.create_table(
        "vendor_relay_state",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column(
            "cursor",
            sa.String(length=512),
            nullable=False,
            comment="vendor cursor past acked readings",
        ),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_digest", sa.LargeBinary(), nullable=False),
        sa.Column(
            "pending",
            postgresql.ARRAY(sa.LargeBinary()),
            nullable=False,
            comment="batches stored before sending, until the cloud acks them",
        ),
        sa.Column("pending_cursor", sa.String(length=512), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_vendor_relay_state_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("robot_id", name=op.f("pk_vendor_relay_state")),
    )
    op.create_table(
        "robot_clocks",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("boot_id", sa.Uuid(), nullable=False),
        sa.Column("max_offset_us", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_robot_clocks_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("robot_id", "boot_id", name=op.f("pk_robot_clocks")),
    )
    op.create_table(
        "drop_notices",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("notice_seq", sa.BigInteger(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.SmallInteger(), nullable=False),
        sa.Column("dropped_bytes", sa.BigInteger(), nullable=False),
        sa.Column("digest_before", sa.LargeBinary(), nullable=False),
        sa.Column("last_digest", sa.LargeBinary(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("dropped_samples", sa.Integer(), nullable=True),
        sa.CheckConstraint("first_seq <= last_seq", name=op.f("ck_drop_notices_range_ordered")),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_drop_notices_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("robot_id", "notice_seq", name=op.f("pk_drop_notices")),
    )
    op.create_table(
        "robot_events",
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.SmallInteger(), nullable=False),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_robot_events_robot_id_robots")
        ),
    )
    op.create_index("ix_robot_events_kind_time", "robot_events", ["kind", "time"], unique=False)
    op.create_index(
        "ix_robot_events_robot_id_time", "robot_events", ["robot_id", "time"], unique=False
    )
    op.create_index(
        "uq_robot_events_robot_id_seq_position_time",
        "robot_events",
        ["robot_id", "seq", "position", "time"],
        unique=True,
    )
    op.create_table(
        "sequence_gaps",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "detected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "resolution IN ('filled', 'dropped')", name=op.f("ck_sequence_gaps_resolution_valid")
        ),
        sa.CheckConstraint(
            "(closed_at IS NULL) = (resolution IS NULL)",
            name=op.f("ck_sequence_gaps_closed_has_resolution"),
        ),
        sa.CheckConstraint("first_seq <= last_seq", name=op.f("ck_sequence_gaps_range_ordered")),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_sequence_gaps_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("robot_id", "first_seq", name=op.f("pk_sequence_gaps")),
    )
    op.create_index(
        "ix_sequence_gaps_open",
        "sequence_gaps",
        ["robot_id"],
        unique=False,
        postgresql_where="closed_at IS NULL",
    )
    # Hypertables: the Apache edition of TimescaleDB partitions by time; retention drops whole
    # chunks. Its default time index is not created: the indexes above are the ones queries use.
    for table, column, interval in HYPERTABLES:
        op.execute(
            f"SELECT create_hypertable('{table}', by_range('{column}', INTERVAL '{interval}'),"
            " create_default_indexes => false)"
        )


def downgrade() -> None:
    op.drop_index(
        "ix_sequence_gaps_open", table_name="sequence_gaps", postgresql_where="closed_at IS NULL"
    )
    op.drop_table("sequence_gaps")
    op.drop_index("uq_robot_events_robot_id_seq_position_time", table_name="robot_events")
    op.drop_index("ix_robot_events_robot_id_time", table_name="robot_events")
    op.drop_index("ix_robot_events_kind_time", table_name="robot_events")
    op.drop_table("robot_events")
    op.drop_table("drop_notices")
    op.drop_table("vendor_relay_state")
    op.drop_table("robot_clocks")
    op.drop_table("batch_receipts")
    op.drop_table("robots")
    op.drop_table("tenants")
    op.drop_index("ix_telemetry_hourly_updated_at", table_name="telemetry_hourly")
    op.drop_table("telemetry_hourly")
    op.drop_index("ix_telemetry_robot_id_time", table_name="telemetry")
    op.drop_table("telemetry")
    op.drop_table("metrics")
    op.drop_index("ix_dead_letters_robot_id_received_at", table_name="dead_letters")
    op.drop_index("ix_dead_letters_reason_received_at", table_name="dead_letters")
    op.drop_table("dead_letters")
