"""Robots through a real broker into a real `robocover ingest` process and the database."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from database.settings import CloudSettings
from firmware_protocol import RobotSigner, RobotState, TopicKind
from tests.support.broker import MosquittoBroker
from tests.support.fleet import SimRobot, register_robot
from tests.support.ingest_process import IngestProcess, RobotLink, eventually, wait_all_acked


@pytest.fixture
def ingest(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker, tmp_path: Path
) -> Iterator[IngestProcess]:
    process = IngestProcess(fresh_database, mqtt_broker, log_path=tmp_path / "ingest.log")
    process.start()
    yield process
    if process.process is not None:
        process.kill(signal.SIGTERM)
    process.retire()  # or the shared broker would keep handing its share to the old session


def _links(database: CloudSettings, broker: MosquittoBroker, count: int) -> list[RobotLink]:
    links = []
    for _ in range(count):
        signer = RobotSigner.generate()
        robot = SimRobot("acme", register_robot(database.libpq_url, signer), signer)
        links.append(RobotLink(robot, broker))
    return links


def _scalar(database: CloudSettings, sql: str) -> object:
    with psycopg.connect(database.libpq_url) as conn:
        row = conn.execute(sql).fetchone()
        assert row is not None
        return row[0]


def test_robots_are_acknowledged_only_for_what_is_committed(
    ingest: IngestProcess, fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    links = _links(fresh_database, mqtt_broker, 3)
    for link in links:
        link.publish(TopicKind.STATUS, link.robot.status(RobotState.ONLINE))
        for _ in range(4):
            link.publish(TopicKind.TELEMETRY, link.robot.telemetry(samples=30))
        link.publish(TopicKind.EVENTS, link.robot.events())
    wait_all_acked(links, timeout=30)
    # Every acknowledged message is in the database: the ack follows the commit.
    assert _scalar(fresh_database, "SELECT count(*) FROM batch_receipts") == 15
    assert _scalar(fresh_database, "SELECT count(*) FROM telemetry") == 3 * 4 * 30 * 20
    assert _scalar(fresh_database, "SELECT sum(samples) FROM telemetry_hourly") == 3 * 4 * 600
    assert _scalar(fresh_database, "SELECT count(*) FROM robot_events") == 3
    assert _scalar(fresh_database, "SELECT count(*) FROM robots WHERE online") == 3
    status, health = ingest.health()
    assert (status, health["status"]) == (200, "ok")
    metrics = ingest.metrics()
    assert 'ingest_messages_total{outcome="accepted"} 15.0' in metrics
    assert "ingest_samples_committed_total 7200.0" in metrics
    for link in links:
        link.close()


def test_sigterm_finishes_the_flush_and_a_restart_takes_up_the_rest(
    ingest: IngestProcess, fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    (link,) = _links(fresh_database, mqtt_broker, 1)
    for _ in range(20):
        link.publish(TopicKind.TELEMETRY, link.robot.telemetry(samples=10))
    assert ingest.kill(signal.SIGTERM) == 0
    for _ in range(20):  # published while no ingest runs: the broker keeps them in its session
        link.publish(TopicKind.TELEMETRY, link.robot.telemetry(samples=10))
    ingest.start()
    wait_all_acked([link], timeout=30)
    assert _scalar(fresh_database, "SELECT count(*) FROM batch_receipts") == 40
    assert _scalar(fresh_database, "SELECT count(*) FROM telemetry") == 40 * 10 * 20
    # Redelivered in-flight messages may come after the queued ones: gaps open, then fill.
    assert (
        _scalar(fresh_database, "SELECT count(*) FROM sequence_gaps WHERE closed_at IS NULL") == 0
    )
    assert (
        _scalar(fresh_database, "SELECT count(*) FROM sequence_gaps WHERE resolution <> 'filled'")
        == 0
    )
    link.close()


def test_bad_traffic_is_dead_lettered_without_stalling_good_traffic(
    ingest: IngestProcess, fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    good, liar = _links(fresh_database, mqtt_broker, 2)
    impostor = SimRobot("acme", liar.robot.robot_id, RobotSigner.generate())
    for index in range(10):
        liar.client.publish(liar.robot.topic(TopicKind.TELEMETRY), b"\x00garbage" * index, qos=1)
        liar.client.publish(liar.robot.topic(TopicKind.TELEMETRY), impostor.telemetry(), qos=1)
        good.publish(TopicKind.TELEMETRY, good.robot.telemetry(samples=5))
    wait_all_acked([good], timeout=30)
    # Other robots on the shared test broker (earlier tests' agents) may add dead letters of
    # their own: count the liar's topic only.
    topic = liar.robot.topic(TopicKind.TELEMETRY)

    def liar_reasons() -> dict[str, int]:
        with psycopg.connect(fresh_database.libpq_url) as conn:
            rows = conn.execute(
                "SELECT reason, count(*) FROM dead_letters WHERE topic = %s GROUP BY 1", (topic,)
            ).fetchall()
        return {str(reason): int(count) for reason, count in rows}

    eventually(
        lambda: sum(liar_reasons().values()) == 20,
        timeout=30,
        what="all bad messages dead-lettered",
        detail=ingest.metrics,
    )
    reasons = liar_reasons()
    assert reasons == {"truncated": 1, "bad_magic": 9, "bad_signature": 10}
    assert _scalar(fresh_database, "SELECT count(*) FROM telemetry") == 10 * 5 * 20
    assert 'ingest_dead_letters_total{reason="bad_signature"} 10.0' in ingest.metrics()
    for link in (good, liar):
        link.close()


def test_a_burst_is_committed_without_any_resend(
    ingest: IngestProcess, fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    """Every message the broker delivers is committed and acknowledged on the first try: the
    robots never resend here, so a message dropped inside the bridge would hang this test.
    (One was, once: a cancelled wait on aiomqtt's iterator lost a message it had dequeued.)"""
    links = _links(fresh_database, mqtt_broker, 10)
    for _ in range(40):
        for link in links:
            link.publish(TopicKind.TELEMETRY, link.robot.telemetry(samples=5))
    wait_all_acked(links, timeout=60, resend_every=3600)
    assert _scalar(fresh_database, "SELECT count(*) FROM batch_receipts") == 400
    for link in links:
        link.close()
