"""Ingest lag as the ingest measures it: each accepted message's delay from its making to its
receipt, the robot's clock skew taken out (the largest offset seen on its boot), observed into
ingest_message_delay_seconds."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry

from database.settings import CloudSettings
from firmware_protocol import RobotSigner, TopicKind
from ingest.bridge.metrics import IngestMetrics
from tests.integration.ingest.test_ingest_flush import flush
from tests.support.fleet import SimRobot, register_robot

MINUTE_US = 60_000_000


def test_a_late_message_is_as_late_as_the_fresher_one_shows_whatever_the_skew(
    fresh_database: CloudSettings,
) -> None:
    database = fresh_database.libpq_url
    signer = RobotSigner.generate()
    robot = SimRobot("acme", register_robot(database, signer), signer)
    topic = robot.topic(TopicKind.TELEMETRY)
    skew_us = 10 * MINUTE_US  # the robot's clock runs ten minutes ahead
    now_us = time.time_ns() // 1000
    held = robot.telemetry(samples=5, wall_us=now_us + skew_us - 3 * MINUTE_US)
    fresh = robot.telemetry(samples=5, wall_us=now_us + skew_us)
    outcome = flush(database, (topic, held), (topic, fresh))  # received at the same moment
    assert outcome.accepted == 2
    assert sorted(outcome.delays_us) == [0, 3 * MINUTE_US]

    metrics = IngestMetrics(CollectorRegistry())
    metrics.record(outcome, [now_us, now_us], 0.01)
    value = metrics.registry.get_sample_value
    assert value("ingest_message_delay_seconds_count") == 2
    assert value("ingest_message_delay_seconds_sum") == 180
    assert value("ingest_message_delay_seconds_bucket", {"le": "120.0"}) == 1
    assert value("ingest_message_delay_seconds_bucket", {"le": "300.0"}) == 2
