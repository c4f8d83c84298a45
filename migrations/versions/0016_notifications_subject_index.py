"""notifications by event type and subject: the watch's "told already?" lookups

The offline-robot watch asks, for every robot offline past the threshold, whether a
notification already told of that absence (event type and subject). With no index the
anti-join compared every such robot with every notification of the type: 1.8 s for 2,000
offline robots and 2,000 told absences (the soak's database watch caught it at 3.7 s),
growing with the product of the two.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 15:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_notifications_event_type_subject_id", "notifications", ["event_type", "subject_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_event_type_subject_id", table_name="notifications")
