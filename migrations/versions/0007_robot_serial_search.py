"""robot serial number search

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:00:00

The robots list searches serial numbers by prefix (``?serial=UR10``), across tenants for staff:
a LIKE 'prefix%' that a btree index with text_pattern_ops serves whatever the collation.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_robots_serial_number_prefix",
        "robots",
        ["serial_number"],
        postgresql_ops={"serial_number": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_robots_serial_number_prefix", table_name="robots")
