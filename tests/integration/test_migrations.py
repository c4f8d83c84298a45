"""The migrations build the schema the models describe, and can be undone."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, pool, text

import database.models  # noqa: F401  (registers every table on the metadata)
from database.base import Base
from database.settings import CloudSettings
from migrations.runner import current_heads, downgrade, upgrade


def test_models_and_migrations_agree(db_connection: Connection) -> None:
    context = MigrationContext.configure(
        db_connection, opts={"compare_type": True, "compare_server_default": True}
    )
    assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_back(fresh_database: CloudSettings) -> None:
    url = fresh_database.sqlalchemy_url
    assert current_heads(url) != set()
    downgrade(url, "base")
    assert current_heads(url) == set()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        assert set(tables) == {"alembic_version"}
    upgrade(url)
    with engine.connect() as conn:
        hypertables = conn.execute(
            text("SELECT hypertable_name FROM timescaledb_information.hypertables")
        ).scalars()
        assert set(hypertables) == {"telemetry", "telemetry_hourly", "robot_events", "dead_letters"}
    engine.dispose()


def test_time_series_tables_are_hypertables_on_time(db_connection: Connection) -> None:
    rows = db_connection.execute(
        text(
            "SELECT hypertable_name, column_name, time_interval FROM "
            "timescaledb_information.dimensions ORDER BY hypertable_name"
        )
    ).all()
    assert [(r[0], r[1]) for r in rows] == [
        ("dead_letters", "received_at"),
        ("robot_events", "time"),
        ("telemetry", "time"),
        ("telemetry_hourly", "bucket"),
    ]
    assert {r[0]: r[2].days for r in rows} == {
        "dead_letters": 7,
        "robot_events": 7,
        "telemetry": 1,
        "telemetry_hourly": 30,
    }


def _plan(conn: Connection, query: str, **params: object) -> str:
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    lines = conn.execute(text("EXPLAIN " + query), params).scalars()
    return "\n".join(lines)


def test_a_robots_recent_data_uses_the_robot_time_index(db_connection: Connection) -> None:
    # A chunk must exist for the planner to show an index scan on it.
    robot = uuid.uuid4()
    db_connection.execute(text("INSERT INTO telemetry VALUES (now(), :r, 1, 1.0, 1)"), {"r": robot})
    plan = _plan(
        db_connection,
        "SELECT time, value FROM telemetry WHERE robot_id = :r "
        "AND time > now() - interval '10 minutes' ORDER BY time DESC",
        r=robot,
    )
    assert "ix_telemetry_robot_id_time" in plan


def test_a_fleets_last_hour_uses_the_robot_time_index(db_connection: Connection) -> None:
    tenant = db_connection.execute(
        text("INSERT INTO tenants (slug, name) VALUES ('acme', 'Acme') RETURNING id")
    ).scalar_one()
    robot = db_connection.execute(
        text(
            "INSERT INTO robots (tenant_id, serial_number, robot_class, manufacturer, model) "
            "VALUES (:t, 'SN1', 'cobot', 'UR', 'UR5e') RETURNING id"
        ),
        {"t": tenant},
    ).scalar_one()
    db_connection.execute(text("INSERT INTO telemetry VALUES (now(), :r, 1, 1.0, 1)"), {"r": robot})
    plan = _plan(
        db_connection,
        "SELECT r.id, count(*) FROM robots r JOIN telemetry t ON t.robot_id = r.id "
        "WHERE r.tenant_id = :t AND t.time > now() - interval '1 hour' GROUP BY r.id",
        t=tenant,
    )
    assert "ix_telemetry_robot_id_time" in plan
