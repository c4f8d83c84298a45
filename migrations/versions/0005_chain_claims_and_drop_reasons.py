"""chain claims: the heads robots' births state before the cloud holds them; drop reasons
the whole protocol range (1..65535: a smallint refused those over 32767, and the flush with them)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_claims",
        sa.Column("robot_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("octet_length(digest) = 32", name=op.f("ck_chain_claims_digest_length")),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_chain_claims_robot_id_robots")
        ),
        sa.PrimaryKeyConstraint("robot_id", "seq", name=op.f("pk_chain_claims")),
    )
    op.alter_column("drop_notices", "reason", type_=sa.Integer(), existing_type=sa.SmallInteger())
    op.create_check_constraint(
        op.f("ck_drop_notices_reason_in_protocol_range"),
        "drop_notices",
        "reason BETWEEN 1 AND 65535",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_drop_notices_reason_in_protocol_range"), "drop_notices", type_="check"
    )
    wide = op.get_bind().scalar(sa.text("SELECT count(*) FROM drop_notices WHERE reason > 32767"))
    if wide:  # a smallint cannot hold them, and evidence is not dropped to downgrade
        raise RuntimeError(f"{wide} drop notices have a reason over 32767: not downgrading")
    op.alter_column("drop_notices", "reason", type_=sa.SmallInteger(), existing_type=sa.Integer())
    op.drop_table("chain_claims")
