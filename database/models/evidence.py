"""What the ingest keeps besides the data itself: refused traffic, and holes in robots' chains."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base

TIMESTAMP = DateTime(timezone=True)

# Every message the ingest refused, with its raw bytes: nothing a robot sent is lost, even when it
# cannot be used, up to each robot's and tenant's budget (dead_letter_tally counts the rest). A
# hypertable, so that old dead letters go by dropping chunks; its id (from a sequence: hypertables
# take no identity column) names a dead letter in review cases' evidence.
dead_letters = Table(
    "dead_letters",
    Base.metadata,
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("topic", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("reason", String(40), nullable=False, comment="reason code, e.g. bad_signature"),
    Column("detail", Text, nullable=False, server_default=""),
    Column("robot_id", Uuid, comment="the topic's robot, when the topic names a known one"),
    Column(
        "id",
        BigInteger,
        nullable=False,
        server_default=text("nextval('dead_letters_id_seq')"),
    ),
    Column("tenant", String(32), comment="the topic's tenant, when the topic parses"),
    Index("ix_dead_letters_reason_received_at", "reason", "received_at"),
    Index("ix_dead_letters_robot_id_received_at", "robot_id", "received_at"),
)


class SequenceGap(Base):
    """A range of a robot's chain that has not arrived. A risk signal, and evidence for claims:
    a gap closes when the messages arrive (filled) or a signed drop notice accounts for them
    (dropped); a gap that never closes is data the robot's side withheld."""

    __tablename__ = "sequence_gaps"
    __table_args__ = (
        CheckConstraint("first_seq <= last_seq", name="range_ordered"),
        CheckConstraint("resolution IN ('filled', 'dropped')", name="resolution_valid"),
        CheckConstraint("(closed_at IS NULL) = (resolution IS NULL)", name="closed_has_resolution"),
        Index("ix_sequence_gaps_open", "robot_id", postgresql_where="closed_at IS NULL"),
    )

    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    closed_at: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    resolution: Mapped[str | None] = mapped_column(String(16))


class DropNoticeRecord(Base):
    """A robot's signed admission that it discarded part of its chain before sending it."""

    __tablename__ = "drop_notices"
    __table_args__ = (
        CheckConstraint("first_seq <= last_seq", name="range_ordered"),
        CheckConstraint("reason BETWEEN 1 AND 65535", name="reason_in_protocol_range"),
    )

    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), primary_key=True)
    notice_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[int] = mapped_column(Integer)
    """The protocol's drop reason, 1..65535; numbers it does not name are kept as sent."""
    dropped_bytes: Mapped[int] = mapped_column(BigInteger)
    digest_before: Mapped[bytes] = mapped_column(LargeBinary)
    last_digest: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    dropped_samples: Mapped[int | None] = mapped_column(BigInteger)


class DeadLetterTally(Base):
    """Refused messages per budget scope (a robot, a tenant, or what no topic names), hour and
    reason: how many were stored, and how many were only counted, past the scope's budget."""

    __tablename__ = "dead_letter_tally"

    scope: Mapped[str] = mapped_column(
        String(64), primary_key=True, comment="robot:<uuid>, tenant:<slug> or unattributed"
    )
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40), primary_key=True)
    stored_messages: Mapped[int] = mapped_column(Integer, server_default="0")
    stored_bytes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    counted_messages: Mapped[int] = mapped_column(
        Integer, server_default="0", comment="past the budget: counted, not stored"
    )
    counted_bytes: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ChainClaim(Base):
    """What a robot's birth said its chain's head was (protocol 1.2 head_digest) before the cloud
    held that message: the message that arrives for that seq must be the one claimed, or the
    robot rewrote its history between the two."""

    __tablename__ = "chain_claims"
    __table_args__ = (CheckConstraint("octet_length(digest) = 32", name="digest_length"),)

    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
