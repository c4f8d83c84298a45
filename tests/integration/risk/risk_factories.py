"""Plain factory functions for the risk engine's database tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import polars as pl
from sqlalchemy import Connection, text

from risk_engine.plans.default import starter_plan
from risk_engine.plans.repository import approve_plan, save_draft
from risk_engine.sim_store import ensure_metrics, write_events, write_rollups
from risk_engine.simulate_telemetry import event_frame, rollup_frame, simulate_hours

PERIOD = datetime(2026, 3, 1, tzinfo=UTC)


def create_robots(
    conn: Connection, classes: list[str], *, commissioned: datetime = PERIOD
) -> list[uuid.UUID]:
    tenant = conn.execute(
        text("INSERT INTO tenants (slug, name) VALUES (:s, 'Risk test') RETURNING id"),
        {"s": f"risk-{uuid.uuid4().hex[:8]}"},
    ).scalar_one()
    ids = []
    for index, robot_class in enumerate(classes):
        ids.append(
            conn.execute(
                text(
                    "INSERT INTO robots (tenant_id, serial_number, robot_class, manufacturer,"
                    " model, created_at) VALUES (:t, :s, :c, 'Acme', 'R1', :at) RETURNING id"
                ),
                {"t": tenant, "s": f"SN-{index}", "c": robot_class, "at": commissioned},
            ).scalar_one()
        )
    return ids


def approve_starter_plan(conn: Connection, *, effective_from: datetime = PERIOD) -> int:
    version = save_draft(conn, starter_plan(effective_from), created_by="actuary")
    approve_plan(conn, version, approved_by="chief actuary", at=effective_from)
    return version


def report_hours(
    conn: Connection,
    robot_ids: list[uuid.UUID],
    riskiness: list[float],
    first_hour: datetime,
    hours: int,
    *,
    seed: int = 0,
    received_at: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Simulated rollups and events of ``hours`` hours from ``first_hour``, written as the ingest
    would; returns (rollups, events)."""
    metric_ids = ensure_metrics(conn)
    buckets = first_hour.timestamp() + 3600.0 * np.arange(hours, dtype=np.float64)
    fleet = simulate_hours(np.array(riskiness, dtype=np.float64), buckets, seed=seed)
    ids = pl.Series([str(r) for r in robot_ids])
    rollups = rollup_frame(fleet, ids, metric_ids)
    events = event_frame(fleet, ids, seed=seed)
    write_rollups(conn, rollups)
    received = (received_at or first_hour).timestamp() + 3600.0 * hours
    write_events(conn, events, received_at=received)
    return rollups, events
