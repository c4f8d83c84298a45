"""The backup and restore of docs/operations.md, done as written: pg_dump's custom format of a
database holding a robot's telemetry, restored into a new database between TimescaleDB's
timescaledb_pre_restore() and timescaledb_post_restore(); the copy has every row, the same
hypertables and schema revision, and the ingest goes on where it was (a redelivered batch is a
duplicate, the next one is accepted and lands in the hypertable)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from database.settings import CloudSettings
from firmware_protocol import RobotSigner, TopicKind
from tests.conftest import TEST_DB_PREFIX
from tests.integration.ingest.test_ingest_flush import flush, query
from tests.support.fleet import SimRobot, register_robot

COUNTS = (
    "SELECT (SELECT count(*) FROM telemetry), (SELECT count(*) FROM telemetry_hourly),"
    " (SELECT count(*) FROM batch_receipts), (SELECT count(*) FROM robots),"
    " (SELECT version_num FROM alembic_version),"
    " (SELECT string_agg(hypertable_name, ',' ORDER BY hypertable_name)"
    "  FROM timescaledb_information.hypertables)"
)


def as_postgres(*command: str, stdin: bytes | None = None) -> bytes:
    """A PostgreSQL client as the database's superuser, over the local socket, as
    scripts/services-up.sh runs them (timescaledb_pre_restore needs a superuser)."""
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *command],
        input=stdin,
        capture_output=True,
        cwd="/",
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def psql(database: str, *statements: str) -> None:
    arguments = [f"--command={statement}" for statement in statements]
    as_postgres("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, *arguments)


@pytest.fixture
def restored_name(fresh_database: CloudSettings) -> Iterator[str]:
    name = f"{TEST_DB_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}_restored"
    yield name
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_dump_restored_between_pre_and_post_restore_is_the_same_database(
    fresh_database: CloudSettings, restored_name: str
) -> None:
    source = fresh_database.libpq_url
    signer = RobotSigner.generate()
    robot = SimRobot("acme", register_robot(source, signer), signer)
    topic = robot.topic(TopicKind.TELEMETRY)
    batches = [robot.telemetry(samples=30) for _ in range(3)]
    assert flush(source, *[(topic, batch) for batch in batches]).accepted == 3
    before = query(source, COUNTS)

    dump = as_postgres("pg_dump", "--format=custom", "-d", source.rpartition("/")[2])
    psql("postgres", f'CREATE DATABASE "{restored_name}" OWNER robocover')
    psql(restored_name, "CREATE EXTENSION timescaledb", "SELECT timescaledb_pre_restore()")
    as_postgres("pg_restore", "--exit-on-error", "-d", restored_name, stdin=dump)
    psql(restored_name, "SELECT timescaledb_post_restore()")

    restored = f"{source.rpartition('/')[0]}/{restored_name}"
    after = query(restored, COUNTS)
    assert after == before
    assert after[0][0] == 3 * 30 * 20  # the samples, all there
    assert after[0][4] is not None  # the schema's revision
    assert after[0][5] == "dead_letters,robot_events,telemetry,telemetry_hourly"
    again = flush(restored, (topic, batches[-1]), (topic, robot.telemetry(samples=30)))
    assert (again.duplicates, again.accepted) == (1, 1)
    assert query(restored, "SELECT count(*) FROM telemetry") == [(4 * 30 * 20,)]
