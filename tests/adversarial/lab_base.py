"""The lab's ground: constants, the database as the commands leave it, the real commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, pool

from database.settings import CloudSettings
from risk_engine.repository import load_robots
from tests.support.broker import MosquittoBroker

BIN = Path(sys.executable).parent
TENANT = "acme-life"
KEEPALIVE_S = 5
"""The agent's MQTT keepalive. 5 s is the least its settings allow (edge_agent/settings.py)."""
INGEST_FLUSH_S = 0.05
"""The test ingest's flush interval (tests/support/ingest_process.py)."""
POLL_S = 0.02


def measured(what: str, seconds: float) -> None:
    """A figure for the report (shown with `pytest -rP`)."""
    print(f"[measured] {what}: {seconds:.3f} s")


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition` every POLL_S until it holds; the seconds it took. The timeout bounds a
    hang; the caller asserts the figure."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"still not true after {timeout} s: {what}")
        time.sleep(POLL_S)
    return time.monotonic() - start


# ---------------------------------------------------------------------------- the database


class Db:
    """One autocommit connection for the test's polling (a connection per poll costs more than
    the figures measured)."""

    def __init__(self, settings: CloudSettings) -> None:
        self.settings = settings
        self.conn = psycopg.connect(settings.libpq_url, autocommit=True)

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, params).fetchall())

    def value(self, sql: str, *params: object) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        assert row is not None, sql
        return row[0]

    def online(self, robot_id: uuid.UUID) -> bool:
        return bool(self.value("SELECT online FROM robots WHERE id = %s", robot_id))

    def presence(self, robot_id: uuid.UUID) -> tuple[bool, int | None, int | None]:
        row = self.rows(
            "SELECT online, presence_connection_seq, presence_state FROM robots WHERE id = %s",
            robot_id,
        )[0]
        return bool(row[0]), row[1], row[2]

    def receipts(self, robot_id: uuid.UUID) -> list[int]:
        return [
            int(r[0])
            for r in self.rows(
                "SELECT seq FROM batch_receipts WHERE robot_id = %s ORDER BY seq", robot_id
            )
        ]

    def dead_letters(self, robot_id: uuid.UUID) -> list[str]:
        return [
            str(r[0])
            for r in self.rows(
                "SELECT reason FROM dead_letters WHERE robot_id = %s ORDER BY id", robot_id
            )
        ]

    def open_gaps(self, robot_id: uuid.UUID) -> list[tuple[int, int]]:
        return [
            (int(r[0]), int(r[1]))
            for r in self.rows(
                "SELECT first_seq, last_seq FROM sequence_gaps WHERE robot_id = %s"
                " AND closed_at IS NULL ORDER BY first_seq",
                robot_id,
            )
        ]

    def tamper_flagged(self, robot_id: uuid.UUID) -> float:
        """What pricing reads (risk_engine.repository.load_robots)."""
        engine = create_engine(self.settings.sqlalchemy_url, poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                frame = load_robots(conn, [robot_id])
        finally:
            engine.dispose()
        assert frame.height == 1, frame
        return float(frame["tamper_flagged"][0])

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def db(fresh_database: CloudSettings) -> Iterator[Db]:
    database = Db(fresh_database)
    yield database
    database.close()


# ---------------------------------------------------------------------------- the staff's commands


@dataclass(frozen=True)
class Cli:
    database: CloudSettings
    broker: MosquittoBroker

    def env(self) -> dict[str, str]:
        """What the e2e tests give the `robocover` command (tests/e2e/test_cli.py)."""
        cloud = self.broker.cloud_credentials
        return {
            **os.environ,
            "ROBOCOVER_DATABASE_URL": self.database.libpq_url,
            "ROBOCOVER_MQTT_URL": self.broker.url,
            "ROBOCOVER_MQTT_USERNAME": cloud.username,
            "ROBOCOVER_MQTT_PASSWORD": cloud.password,
            "ROBOCOVER_MQTT_ADMIN_PASSWORD": self.broker.admin_credentials.password,
            "ROBOCOVER_LOG_FORMAT": "json",
        }

    def command(self, *args: str) -> list[str]:
        return [str(BIN / "robocover"), *args]

    def run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, timeout: float = 90) -> str:
        result = self.run(*args, timeout=timeout)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout


@pytest.fixture
def cli(fresh_database: CloudSettings, mqtt_broker: MosquittoBroker) -> Cli:
    return Cli(fresh_database, mqtt_broker)


# ---------------------------------------------------------------------------- the agent process
