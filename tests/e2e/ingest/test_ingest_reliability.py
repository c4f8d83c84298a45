"""Nothing a robot sent is lost or counted twice: real processes killed and restarted under load.

Two `robocover ingest` processes share the load through an MQTT 5 shared subscription while
six robots publish signed batches (and resend what is not acknowledged, as their outboxes do).
Meanwhile the ingest processes are killed with SIGKILL several times, the broker is restarted
and PostgreSQL is restarted. Afterwards the database must hold exactly the published samples.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from database.settings import CloudSettings
from firmware_protocol import RobotSigner, TelemetryBatch, TopicKind, decode
from tests.support.broker import MosquittoBroker
from tests.support.fleet import SimRobot, register_robot
from tests.support.ingest_process import IngestProcess, RobotLink, eventually, wait_all_acked

ROBOTS = 6
BATCHES_PER_ROBOT = 40
SAMPLES = 60


def _pg_ctl(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        timeout=120,
    )


def database_answers(settings: CloudSettings) -> bool:
    try:
        with psycopg.connect(settings.libpq_url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    own = MosquittoBroker(tmp_path / "broker")
    own.workdir.mkdir()
    own.start()
    yield own
    own.stop()


def _publish_all(links: list[RobotLink], published: list[bytes]) -> None:
    """Each robot publishes its batches at a steady pace, about 40 batches a second in all."""
    for _ in range(BATCHES_PER_ROBOT):
        for link in links:
            payload = link.robot.telemetry(samples=SAMPLES)
            published.append(payload)
            link.publish(TopicKind.TELEMETRY, payload)
        time.sleep(0.15)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("pg_ctlcluster") is None,
    reason="restarting PostgreSQL needs root and Debian's pg_ctlcluster",
)
def test_kills_and_restarts_lose_nothing_and_duplicate_nothing(
    fresh_database: CloudSettings, broker: MosquittoBroker, tmp_path: Path
) -> None:
    ingests = [
        IngestProcess(
            fresh_database, broker, client_id=f"ingest-{name}", log_path=tmp_path / f"{name}.log"
        )
        for name in ("a", "b")
    ]
    for process in ingests:
        process.start()
    links = []
    for _ in range(ROBOTS):
        signer = RobotSigner.generate()
        links.append(
            RobotLink(
                SimRobot("acme", register_robot(fresh_database.libpq_url, signer), signer), broker
            )
        )
    published: list[bytes] = []
    publisher = threading.Thread(target=_publish_all, args=(links, published))
    publisher.start()

    time.sleep(1.0)
    for round_ in range(3):  # SIGKILL each ingest in turn, restart it
        victim = ingests[round_ % 2]
        victim.kill(signal.SIGKILL)
        time.sleep(0.5)
        victim.start()
    broker.stop()  # the broker restarts: robots and ingests reconnect, sessions survive
    broker.start()
    time.sleep(0.5)
    _pg_ctl("restart")  # every database connection breaks; flushes wait and retry
    eventually(lambda: database_answers(fresh_database), 60, "PostgreSQL back")
    ingests[0].kill(signal.SIGKILL)
    ingests[0].start()
    publisher.join()

    wait_all_acked(links, timeout=180)
    batches = [decode(p).message for p in published]
    telemetry = [b for b in batches if isinstance(b, TelemetryBatch)]
    expected_samples = sum(b.sample_count for b in telemetry)
    expected_total = sum(float(np.sum(b.values)) for b in telemetry)
    with psycopg.connect(fresh_database.libpq_url) as conn:
        receipts = conn.execute(
            "SELECT count(*), count(DISTINCT (robot_id, seq)) FROM batch_receipts"
        ).fetchone()
        samples = conn.execute("SELECT count(*), sum(value) FROM telemetry").fetchone()
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM telemetry GROUP BY robot_id, seq, metric_id, time"
            " HAVING count(*) > 1) d"
        ).fetchone()
        rollup = conn.execute("SELECT sum(samples), sum(total) FROM telemetry_hourly").fetchone()
        open_gaps = conn.execute(
            "SELECT count(*) FROM sequence_gaps WHERE closed_at IS NULL"
        ).fetchone()
        dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    assert receipts == (ROBOTS * BATCHES_PER_ROBOT, ROBOTS * BATCHES_PER_ROBOT)
    assert samples is not None
    assert rollup is not None
    assert samples[0] == expected_samples == ROBOTS * BATCHES_PER_ROBOT * SAMPLES * 20
    assert samples[1] == pytest.approx(expected_total, rel=1e-9)
    assert doubled == (0,)
    assert rollup[0] == expected_samples
    assert rollup[1] == pytest.approx(expected_total, rel=1e-9)
    assert open_gaps == (0,)
    assert dead == (0,)
    for link in links:
        link.close()
    for process in ingests:
        process.kill(signal.SIGTERM)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("pg_ctlcluster") is None,
    reason="stopping PostgreSQL needs root and Debian's pg_ctlcluster",
)
def test_while_the_database_is_down_the_ingest_holds_on_and_reports_it(
    fresh_database: CloudSettings, broker: MosquittoBroker, tmp_path: Path
) -> None:
    """Backpressure: the flush under way waits and retries, nothing more is read (the broker
    queues), /health says so, and everything arrives once the database is back."""
    ingest = IngestProcess(fresh_database, broker, log_path=tmp_path / "ingest.log")
    ingest.start()
    signer = RobotSigner.generate()
    robot = SimRobot("acme", register_robot(fresh_database.libpq_url, signer), signer)
    link = RobotLink(robot, broker)
    _pg_ctl("stop")
    try:
        for _ in range(30):
            link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=SAMPLES))
        eventually(lambda: ingest.health()[0] == 503, 30, "/health reports the outage")
        assert ingest.health()[1]["database_connected"] is False
        assert link.unacked() == list(range(30))  # nothing acknowledged that is not committed
        assert ingest.process is not None
        assert ingest.process.poll() is None  # holding on, not crashed
    finally:
        _pg_ctl("start")
    wait_all_acked([link], timeout=120)
    eventually(lambda: ingest.health()[0] == 200, 30, "/health recovers")
    with psycopg.connect(fresh_database.libpq_url) as conn:
        assert conn.execute("SELECT count(*) FROM telemetry").fetchone() == (30 * SAMPLES * 20,)
    assert "ingest_database_retries_total" in ingest.metrics()
    link.close()
    ingest.kill(signal.SIGTERM)
