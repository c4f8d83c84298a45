"""enrollment tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrollment_tokens",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "octet_length(secret_hash) = 32", name=op.f("ck_enrollment_tokens_sha256_length")
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"],
            ["robots.id"],
            name=op.f("fk_enrollment_tokens_robot_id_robots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_tokens")),
    )
    op.create_index(
        op.f("ix_enrollment_tokens_robot_id"), "enrollment_tokens", ["robot_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_enrollment_tokens_robot_id"), table_name="enrollment_tokens")
    op.drop_table("enrollment_tokens")
