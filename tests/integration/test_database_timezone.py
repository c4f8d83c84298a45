"""Every engine robocover makes reads timestamps in UTC, whatever the server's TimeZone: a
policy's days start at 00:00 UTC, and psycopg returns timestamptz in the session's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from sqlalchemy import text

from database.engine import make_engine
from database.settings import CloudSettings


def test_a_server_in_new_york_still_gives_utc_days(fresh_database: CloudSettings) -> None:
    name = fresh_database.libpq_url.rpartition("/")[2]
    with psycopg.connect(fresh_database.libpq_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET TimeZone = 'America/New_York'").format(
                sql.Identifier(name)
            )
        )
    with psycopg.connect(fresh_database.libpq_url) as plain:
        local = plain.execute("SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00'").fetchone()
    assert local is not None
    assert local[0].date().isoformat() == "2023-12-31"  # what an unpinned session reads
    engine = make_engine(fresh_database)
    try:
        with engine.connect() as conn:
            moment = conn.execute(text("SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00'")).scalar_one()
    finally:
        engine.dispose()
    assert isinstance(moment, datetime)
    assert moment.utcoffset() == timedelta(0)
    assert moment.date().isoformat() == "2024-01-01"
    assert moment == datetime(2024, 1, 1, tzinfo=UTC)
