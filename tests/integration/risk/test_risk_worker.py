"""The Celery tasks run by a real worker on the real Redis, against a database of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from sqlalchemy import create_engine, pool, text

from database.settings import CloudSettings
from risk_engine.periods import hour_start
from risk_engine.settings import WorkerSettings
from risk_engine.worker import RESCORE_ROBOTS, SCAN_SEVERE_EVENTS, configure, worker_settings
from tests.integration.risk.risk_factories import approve_starter_plan, create_robots, report_hours

REDIS_DB = 14


@pytest.fixture
def risk_settings(fresh_database: CloudSettings) -> Iterator[WorkerSettings]:
    url = f"redis://{fresh_database.redis_url.host}:{fresh_database.redis_url.port}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield WorkerSettings(
        database_url=fresh_database.database_url,
        redis_url=url,
        event_settle_seconds=0.0,
    )
    client.flushdb()
    client.close()


# Celery's Redis result backend still calls redis-py's deprecated setex.
@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
def test_a_real_worker_rescores_after_severe_events(risk_settings: WorkerSettings) -> None:
    app = configure(risk_settings)
    assert worker_settings() is risk_settings
    engine = create_engine(risk_settings.sqlalchemy_url, poolclass=pool.NullPool)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        robots = create_robots(
            conn, ["cobot", "industrial_arm"], commissioned=now - timedelta(days=9)
        )
        approve_starter_plan(conn, effective_from=now - timedelta(days=40))
        report_hours(
            conn,
            robots,
            [0.1, 1.0],
            hour_start(now) - timedelta(hours=3),
            3,
            received_at=now - timedelta(hours=4),
        )
        conn.execute(
            text(
                "INSERT INTO robot_events (time, robot_id, seq, position, kind, severity)"
                " VALUES (now(), :r, 999999, 0, 'collision', 2)"
            ),
            {"r": robots[1]},
        )
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        direct = app.send_task(RESCORE_ROBOTS, args=[[str(robots[0])], "on_demand"])
        summary = direct.get(timeout=60)
        assert summary["scored"] == 1
        scan = app.send_task(SCAN_SEVERE_EVENTS)
        assert scan.get(timeout=60) == [str(robots[1])]
        with engine.connect() as conn:
            deadline = datetime.now(UTC) + timedelta(seconds=60)
            rows: list[object] = []
            while datetime.now(UTC) < deadline and len(rows) < 2:
                rows = list(
                    conn.execute(
                        text("SELECT robot_id, trigger, premium FROM risk_scores ORDER BY id")
                    ).all()
                )
                conn.rollback()
    engine.dispose()
    assert [row[0] for row in rows] == robots  # type: ignore[index]
    # The one asked for on demand says so; the one the scan sent was a severe event.
    assert [row[1] for row in rows] == ["on_demand", "severe_event"]  # type: ignore[index]
