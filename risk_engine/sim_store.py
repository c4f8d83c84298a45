"""Writing simulated rollups and events where the ingest writes real ones (demo, tests, bench)."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Connection, text

from risk_engine.copy import write_frame
from risk_engine.simulate_telemetry import SIMULATED_METRICS


def ensure_metrics(conn: Connection) -> dict[str, int]:
    """The ids of the simulated metric keys, registering the missing ones as the ingest would."""
    for key in SIMULATED_METRICS:
        name, _, channel = key.partition(".")
        conn.execute(
            text(
                "INSERT INTO metrics (key, name, channel, unit) VALUES (:k, :n, :c, '')"
                " ON CONFLICT (key) DO NOTHING"
            ),
            {"k": key, "n": name, "c": int(channel or 0)},
        )
    rows = conn.execute(text("SELECT key, id FROM metrics")).all()
    return {str(key): int(metric_id) for key, metric_id in rows}


def write_rollups(conn: Connection, rollups: pl.DataFrame) -> None:
    """Insert (or fold into) telemetry_hourly rows; times in epoch seconds."""
    conn.execute(
        text(
            "CREATE TEMPORARY TABLE risk_sim_rollups (robot_id uuid, metric_id integer,"
            " bucket double precision, samples bigint, total double precision,"
            " total_sq double precision, minimum double precision, maximum double precision,"
            " last_time double precision, last_value double precision) ON COMMIT DROP"
        )
    )
    write_frame(conn, "risk_sim_rollups", rollups.with_columns(pl.col("samples").cast(pl.Int64)))
    conn.execute(
        text(
            "INSERT INTO telemetry_hourly SELECT robot_id, metric_id, to_timestamp(bucket),"
            " samples, total, total_sq, minimum, maximum, to_timestamp(last_time), last_value"
            " FROM risk_sim_rollups ON CONFLICT (robot_id, metric_id, bucket) DO UPDATE SET"
            " samples = telemetry_hourly.samples + EXCLUDED.samples,"
            " total = telemetry_hourly.total + EXCLUDED.total,"
            " total_sq = telemetry_hourly.total_sq + EXCLUDED.total_sq,"
            " minimum = least(telemetry_hourly.minimum, EXCLUDED.minimum),"
            " maximum = greatest(telemetry_hourly.maximum, EXCLUDED.maximum),"
            " updated_at = now()"
        )
    )
    conn.execute(text("DROP TABLE risk_sim_rollups"))


def write_events(conn: Connection, events: pl.DataFrame, *, received_at: float) -> None:
    """Insert robot_events rows (robot_id, time, kind, severity), received at ``received_at``."""
    conn.execute(
        text(
            "CREATE TEMPORARY TABLE risk_sim_events (robot_id uuid, time double precision,"
            " kind text, severity smallint) ON COMMIT DROP"
        )
    )
    write_frame(conn, "risk_sim_events", events.select("robot_id", "time", "kind", "severity"))
    conn.execute(
        text(
            "INSERT INTO robot_events (time, robot_id, seq, position, kind, severity, received_at)"
            " SELECT to_timestamp(time), robot_id,"
            " (SELECT coalesce(max(seq), 0) FROM robot_events) + row_number() OVER (), 0, kind,"
            " severity, to_timestamp(:received) FROM risk_sim_events"
        ),
        {"received": received_at},
    )
    conn.execute(text("DROP TABLE risk_sim_events"))
