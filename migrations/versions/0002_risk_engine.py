"""risk engine: rating plans, claims experience, feature state, score history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rating_plans",
        sa.Column("version", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "body",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="the plan: base rates, factors, loadings, ...",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status = 'draft' OR (approved_by IS NOT NULL AND approved_at IS NOT NULL)",
            name=op.f("ck_rating_plans_approved_has_approver"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'approved', 'retired')", name=op.f("ck_rating_plans_status_valid")
        ),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to > effective_from",
            name=op.f("ck_rating_plans_effective_range"),
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rating_plans")),
    )
    op.create_table(
        "risk_watermarks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_risk_watermarks")),
    )
    op.create_table(
        "claim_experience",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("coverage", sa.String(length=40), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        sa.Column(
            "incurred",
            sa.Numeric(precision=14, scale=2),
            nullable=False,
            comment="paid plus case reserves",
        ),
        sa.Column("exposure_h", sa.Double(), nullable=False, comment="earned operating hours"),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "claim_count >= 0", name=op.f("ck_claim_experience_claim_count_nonnegative")
        ),
        sa.CheckConstraint(
            "exposure_h >= 0", name=op.f("ck_claim_experience_exposure_nonnegative")
        ),
        sa.CheckConstraint("incurred >= 0", name=op.f("ck_claim_experience_incurred_nonnegative")),
        sa.CheckConstraint(
            "period_end > period_start", name=op.f("ck_claim_experience_period_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_claim_experience_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint(
            "robot_id", "period_start", "coverage", name=op.f("pk_claim_experience")
        ),
    )
    op.create_table(
        "risk_feature_state",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "rollups_through",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="every rollup hour before this is folded in",
        ),
        sa.Column(
            "events_through",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="every event received up to this is folded in",
        ),
        sa.Column(
            "rollups_updated_through",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="every rollup row of a folded hour updated up to this is folded as it was then",
        ),
        sa.Column("observed_h", sa.Double(), nullable=True),
        sa.Column("observed_operating_h", sa.Double(), nullable=True),
        sa.Column("temperature_channel_h", sa.Double(), nullable=True),
        sa.Column("thermal_channel_h", sa.Double(), nullable=True),
        sa.Column("soh_n", sa.Double(), nullable=True),
        sa.Column("soh_t", sa.Double(), nullable=True),
        sa.Column("soh_tt", sa.Double(), nullable=True),
        sa.Column("soh_y", sa.Double(), nullable=True),
        sa.Column("soh_ty", sa.Double(), nullable=True),
        sa.Column("vibration_n", sa.Double(), nullable=True),
        sa.Column("vibration_t", sa.Double(), nullable=True),
        sa.Column("vibration_tt", sa.Double(), nullable=True),
        sa.Column("vibration_y", sa.Double(), nullable=True),
        sa.Column("vibration_ty", sa.Double(), nullable=True),
        sa.Column("collision_events", sa.Double(), nullable=True),
        sa.Column("protective_stop_events", sa.Double(), nullable=True),
        sa.Column("emergency_stop_events", sa.Double(), nullable=True),
        sa.Column("over_temperature_events", sa.Double(), nullable=True),
        sa.Column("fault_events_info", sa.Double(), nullable=True),
        sa.Column("fault_events_warning", sa.Double(), nullable=True),
        sa.Column("fault_events_error", sa.Double(), nullable=True),
        sa.Column("fault_events_critical", sa.Double(), nullable=True),
        sa.Column("operating_hours_max", sa.Double(), nullable=True),
        sa.Column("collision_counter_max", sa.Double(), nullable=True),
        sa.Column("protective_stop_counter_max", sa.Double(), nullable=True),
        sa.Column("emergency_stop_counter_max", sa.Double(), nullable=True),
        sa.Column("last_maintenance_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_firmware_change_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("operating_hours_first", sa.Double(), nullable=True),
        sa.Column("collision_counter_first", sa.Double(), nullable=True),
        sa.Column("protective_stop_counter_first", sa.Double(), nullable=True),
        sa.Column("emergency_stop_counter_first", sa.Double(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_risk_feature_state_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("robot_id", "period_start", name=op.f("pk_risk_feature_state")),
    )
    op.create_table(
        "risk_scores",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("annual_hours", sa.Double(), nullable=False),
        sa.Column("expected_frequency", sa.Double(), nullable=False),
        sa.Column("expected_severity", sa.Double(), nullable=False),
        sa.Column("pure_premium", sa.Double(), nullable=False),
        sa.Column("credibility", sa.Double(), nullable=False),
        sa.Column("experience_mod", sa.Double(), nullable=False),
        sa.Column("technical_premium", sa.Double(), nullable=False),
        sa.Column("reference_premium", sa.Double(), nullable=False),
        sa.Column("premium", sa.Double(), nullable=False),
        sa.Column("features", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "contributions",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="log-scale, per factor",
        ),
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="top four increases, largest first",
        ),
        sa.CheckConstraint(
            "trigger IN ('schedule', 'severe_event', 'on_demand')",
            name=op.f("ck_risk_scores_trigger_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_version"],
            ["rating_plans.version"],
            name=op.f("fk_risk_scores_plan_version_rating_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_risk_scores_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_scores")),
    )
    op.create_index(
        "ix_risk_scores_robot_id_period_start_scored_at",
        "risk_scores",
        ["robot_id", "period_start", "scored_at"],
        unique=False,
    )
    op.create_index("ix_robot_events_received_at", "robot_events", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_robot_events_received_at", table_name="robot_events")
    op.drop_index("ix_risk_scores_robot_id_period_start_scored_at", table_name="risk_scores")
    op.drop_table("risk_scores")
    op.drop_table("risk_feature_state")
    op.drop_table("claim_experience")
    op.drop_table("risk_watermarks")
    op.drop_table("rating_plans")
