"""The robot path under attack: each test plays an attacker holding one robot's credentials (its
broker account and signing key, which sit on a box its owner controls) against the real broker
and a real `robocover ingest` process, and checks the outcome and what it cost."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from database.settings import CloudSettings
from firmware_protocol import RobotSigner
from tests.support.broker import MosquittoBroker
from tests.support.fleet import SimRobot, register_robot
from tests.support.ingest_process import IngestProcess, RobotLink

pytestmark = pytest.mark.adversarial


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"no VmRSS for pid {pid}")


class RssSampler:
    """Samples a process's RSS every few milliseconds in a thread; `peak` is the largest seen."""

    def __init__(self, pid: int, every_s: float = 0.002) -> None:
        self.pid, self.every_s = pid, every_s
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except (OSError, LookupError):
                return
            time.sleep(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def query(database: CloudSettings, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.libpq_url) as conn:
        return list(conn.execute(sql, params).fetchall())


IngestFactory = Callable[..., IngestProcess]


@pytest.fixture
def start_ingest(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker, tmp_path: Path
) -> Iterator[IngestFactory]:
    """Start `robocover ingest` processes with extra settings (ROBOCOVER_* variables); each is
    stopped and its broker session ended after the test."""
    started: list[IngestProcess] = []

    def start(**env: str) -> IngestProcess:
        process = IngestProcess(
            fresh_database,
            mqtt_broker,
            log_path=tmp_path / f"ingest-{len(started)}.log",
            extra_env={f"ROBOCOVER_{k.upper()}": v for k, v in env.items()},
        )
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process is not None:
            process.kill(signal.SIGTERM)
        process.retire()


@pytest.fixture
def robot_link(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> Iterator[Callable[..., RobotLink]]:
    """Enrolled robots with their own broker accounts and keys, as real MQTT clients."""
    links: list[RobotLink] = []

    def make(tenant: str = "acme") -> RobotLink:
        signer = RobotSigner.generate()
        robot = SimRobot(
            tenant, register_robot(fresh_database.libpq_url, signer, tenant=tenant), signer
        )
        link = RobotLink(robot, mqtt_broker)
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()


# The identity and lifecycle lab's fixtures (tests/adversarial/lab.py).
from tests.adversarial.agents import agent_factory  # noqa: E402, F401
from tests.adversarial.lab import lab  # noqa: E402, F401
from tests.adversarial.lab_base import cli, db  # noqa: E402, F401
