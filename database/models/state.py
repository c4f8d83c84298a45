"""Incremental feature state per robot and rating period (risk_engine.features.state), with the
watermarks of what it has folded; and named watermarks of the event scan. The names of the
state's statistics are the table's columns, so they are defined here, with the table."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Column, DateTime, Double, ForeignKey, Index, String, Table, Uuid, func

from database.base import Base
from database.models.event import robot_events

# The columns of the stored state: how risk_engine.features.state names its statistics.
# Counters from the catalogue: increases are read as max - first value seen.
COUNTERS: Mapping[str, str] = {
    "operating_hours_h": "operating_hours",
    "collision_count": "collision_counter",
    "protective_stop_count": "protective_stop_counter",
    "emergency_stop_count": "emergency_stop_counter",
}
TRENDS: Mapping[str, str] = {"battery_soh_pct": "soh", "vibration_rms_m_s2": "vibration"}
EVENT_COUNTS: Mapping[str, str] = {
    "collision": "collision_events",
    "protective_stop": "protective_stop_events",
    "emergency_stop": "emergency_stop_events",
    "over_temperature": "over_temperature_events",
}
FAULT_SEVERITIES = ("info", "warning", "error", "critical")

TREND_SUMS: tuple[str, ...] = tuple(
    f"{t}_{s}" for t in TRENDS.values() for s in ("n", "t", "tt", "y", "ty")
)
STATE_SUMS: tuple[str, ...] = (
    "observed_h",
    "observed_operating_h",
    "temperature_channel_h",
    "thermal_channel_h",
    *TREND_SUMS,
    *EVENT_COUNTS.values(),
    *(f"fault_events_{s}" for s in FAULT_SEVERITIES),
)
STATE_MAXIMA: tuple[str, ...] = (
    *(f"{c}_max" for c in COUNTERS.values()),
    "last_maintenance_at",
    "last_firmware_change_at",
)
STATE_MINIMA: tuple[str, ...] = tuple(f"{c}_first" for c in COUNTERS.values())
STATE_COLUMNS: tuple[str, ...] = STATE_SUMS + STATE_MAXIMA + STATE_MINIMA
# The statistics that are times (epoch seconds in the frames, timestamptz in the table).
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
