"""Incremental feature state per robot and rating period (risk_engine.features.state), with the
watermarks of what it has folded; and named watermarks of the event scan."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Double, ForeignKey, Index, String, Table, Uuid, func

from ingest.db.base import Base
from ingest.models import robot_events
from risk_engine.features.state import STATE_COLUMNS

TIMESTAMPS = ("last_maintenance_at", "last_firmware_change_at")

risk_feature_state = Table(
    "risk_feature_state",
    Base.metadata,
    Column("robot_id", Uuid, ForeignKey("robots.id"), primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column(
        "rollups_through",
        DateTime(timezone=True),
        nullable=False,
        comment="every rollup hour before this is folded in",
    ),
    Column(
        "events_through",
        DateTime(timezone=True),
        nullable=False,
        comment="every event received up to this is folded in",
    ),
    Column(
        "rollups_updated_through",
        DateTime(timezone=True),
        nullable=False,
        comment="every rollup row of a folded hour updated up to this is folded as it was then",
    ),
    *(
        Column(name, DateTime(timezone=True) if name in TIMESTAMPS else Double)
        for name in STATE_COLUMNS
    ),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

risk_watermarks = Table(
    "risk_watermarks",
    Base.metadata,
    Column("name", String(64), primary_key=True),
    Column("position", DateTime(timezone=True), nullable=False),
)

# Reading only the events received since the last rescore needs this on the ingest's table.
Index("ix_robot_events_received_at", robot_events.c.received_at)
