"""Fixtures on real services: migrated PostgreSQL + TimescaleDB, a real Mosquitto, a real Redis.

Databases: the session migrates one template database with `alembic upgrade head` (so every run
exercises the migrations), then
- `db_session` gives each test a session on a shared clone, in a transaction rolled back at the end;
- `fresh_database` gives a test that needs committed data or other processes its own clone.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql
from sqlalchemy import Connection, Engine, create_engine, pool
from sqlalchemy.orm import Session

from database.settings import CloudSettings
from migrations.runner import upgrade
from tests.support.broker import MosquittoBroker

# The server-side template that carries the timescaledb extension (scripts/services-up.sh).
EXTENSION_TEMPLATE = "robocover_template"
TEST_DB_PREFIX = "rc_test_"


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def _admin(base_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_with_database(base_url, "postgres"), autocommit=True)


def create_database(base_url: str, name: str, template: str) -> str:
    """Clone ``template``. TimescaleDB's scheduler may still hold a short-lived connection to a
    database that was just migrated, which makes PostgreSQL refuse to copy it: wait it out."""
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(template)
    )
    deadline = time.monotonic() + 30
    with _admin(base_url) as conn:
        while True:
            try:
                conn.execute(statement)
                break
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    return _with_database(base_url, name)


def close_to_connections(base_url: str, name: str) -> None:
    """A template nobody connects to any more (TimescaleDB's scheduler included) clones at once."""
    with _admin(base_url) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        )


def drop_database(base_url: str, name: str) -> None:
    with _admin(base_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _drop_stale_databases(base_url: str) -> None:
    """Databases left by test runs that were killed: their process is gone."""
    with _admin(base_url) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (TEST_DB_PREFIX + "%",)
        ).fetchall()
    for (name,) in rows:
        pid = str(name).removeprefix(TEST_DB_PREFIX).split("_", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            drop_database(base_url, str(name))


@pytest.fixture(scope="session")
def base_settings() -> CloudSettings:
    """Where the services are: the environment's ROBOCOVER_* variables, or the local defaults."""
    return CloudSettings()


@pytest.fixture(scope="session")
def migrated_template(base_settings: CloudSettings) -> Iterator[str]:
    """The name of a database built by running every migration."""
    base_url = base_settings.libpq_url
    _drop_stale_databases(base_url)
    name = f"{TEST_DB_PREFIX}{os.getpid()}_template"
    drop_database(base_url, name)
    url = create_database(base_url, name, EXTENSION_TEMPLATE)
    upgrade(url.replace("postgresql://", "postgresql+psycopg://", 1))
    close_to_connections(base_url, name)
    yield name
    drop_database(base_url, name)


@pytest.fixture
def fresh_database(base_settings: CloudSettings, migrated_template: str) -> Iterator[CloudSettings]:
    """Settings whose database is a migrated database of this test's own."""
    base_url = base_settings.libpq_url
    name = f"{TEST_DB_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}"
    url = create_database(base_url, name, migrated_template)
    yield base_settings.model_copy(update={"database_url": url})
    drop_database(base_url, name)


@pytest.fixture(scope="session")
def shared_database(base_settings: CloudSettings, migrated_template: str) -> Iterator[Engine]:
    base_url = base_settings.libpq_url
    name = f"{TEST_DB_PREFIX}{os.getpid()}_shared"
    url = create_database(base_url, name, migrated_template)
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=pool.NullPool
    )
    yield engine
    engine.dispose()
    drop_database(base_url, name)


@pytest.fixture
def db_connection(shared_database: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with shared_database.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()


@pytest.fixture
def db_session(db_connection: Connection) -> Iterator[Session]:
    """An ORM session whose commits are savepoints inside the test's rolled-back transaction."""
    with Session(bind=db_connection, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A real Mosquitto of the test session's own, configured like the project's broker."""
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def redis_client(base_settings: CloudSettings) -> Iterator[redis.Redis]:
    """The real Redis, on a database number of the tests' own, emptied before and after."""
    client = redis.Redis.from_url(str(base_settings.redis_url), db=15)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
