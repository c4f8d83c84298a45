"""invoice due notices: when an invoice's policyholder was told it falls due

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "invoices",
        sa.Column(
            "due_notice_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="when its tenant was told it falls due (invoice_due); once per invoice",
        ),
    )
    # What the due-notice job scans: open invoices not yet told, by due date.
    op.create_index(
        "ix_invoices_due_on_untold",
        "invoices",
        ["due_on"],
        postgresql_where=sa.text("status = 'open' AND due_notice_at IS NULL AND kind <> 'credit'"),
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_due_on_untold", table_name="invoices")
    op.drop_column("invoices", "due_notice_at")
