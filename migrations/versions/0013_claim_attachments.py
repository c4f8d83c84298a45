"""claim attachments: a file's name, type, size and SHA-256; the bytes in the attachment store

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_attachments",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.LargeBinary(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "octet_length(sha256) = 32", name=op.f("ck_claim_attachments_sha256_length")
        ),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_claim_attachments_size_positive")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_attachments_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_attachments")),
    )
    op.create_index(
        "ix_claim_attachments_claim_id", "claim_attachments", ["claim_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_claim_attachments_claim_id", table_name="claim_attachments")
    op.drop_table("claim_attachments")
