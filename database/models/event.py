"""Robot events (faults, collisions, stops, over-temperature, maintenance, firmware changes)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Table,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from database.base import Base

# A TimescaleDB hypertable partitioned on time. (robot_id, seq, position, time) identifies an event:
# the signed batch it came in and its place there, so a redelivered batch adds nothing.
robot_events = Table(
    "robot_events",
    Base.metadata,
    Column("time", DateTime(timezone=True), nullable=False),
    Column("robot_id", Uuid, ForeignKey("robots.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("code", String(64)),
    Column("severity", SmallInteger, nullable=False),
    Column("detail", JSONB, nullable=False, server_default="{}"),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(
        "uq_robot_events_robot_id_seq_position_time",
        "robot_id",
        "seq",
        "position",
        "time",
        unique=True,
    ),
    Index("ix_robot_events_robot_id_time", "robot_id", "time"),
    Index("ix_robot_events_kind_time", "kind", "time"),
)
