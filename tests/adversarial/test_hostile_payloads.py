"""Hostile payloads from one robot's account, through the real broker, into a real ingest: what
they cost, and that they cost nobody else anything."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from database.settings import CloudSettings
from firmware_protocol import TopicKind
from tests.adversarial.conftest import IngestFactory, RssSampler, query, rss_bytes
from tests.support.attacks import (
    body_of,
    garbage_signed_frame,
    signed_frame,
    telemetry_bomb_body,
)
from tests.support.broker import MosquittoBroker
from tests.support.ingest_process import RobotLink, eventually, wait_all_acked

pytestmark = pytest.mark.adversarial
MB = 1024 * 1024
LinkFactory = Callable[..., RobotLink]


def _bomb(link: RobotLink) -> bytes:
    robot = link.robot
    body = telemetry_bomb_body(
        robot.robot_id.bytes,
        robot.boot_id.bytes,
        seq=robot.seq,
        prev_digest=robot.last_digest,
        wall_us=time.time_ns() // 1000,
        mono_us=robot.mono_us,
    )
    return garbage_signed_frame(1, body)


def _unsent(link: RobotLink, make: Callable[[], bytes]) -> bytes:
    """What `make` builds from the robot's chain, without the robot counting it as sent."""
    robot = link.robot
    seq, last_digest = robot.seq, robot.last_digest
    payload = make()
    robot.seq, robot.last_digest = seq, last_digest
    return payload


def _raw(link: RobotLink, kind: TopicKind, payload: bytes) -> None:
    """Publish bytes as the robot, without the link's bookkeeping (they need not decode)."""
    link.client.publish(link.robot.topic(kind), payload, qos=1).wait_for_publish(10)


def _dead_letters(database: CloudSettings, robot: uuid.UUID, reason: str) -> int:
    rows = query(
        database,
        "SELECT count(*) FROM dead_letters WHERE robot_id = %s AND reason = %s",
        robot,
        reason,
    )
    return int(rows[0][0])


def test_a_zstd_bomb_costs_the_ingest_under_64_mb_and_is_dead_lettered_within_a_second(
    start_ingest: IngestFactory, robot_link: LinkFactory, fresh_database: CloudSettings
) -> None:
    ingest = start_ingest()
    good, attacker = robot_link(), robot_link()
    good.publish(TopicKind.TELEMETRY, good.robot.telemetry(samples=60))  # warm: numpy, zstd loaded
    wait_all_acked([good], timeout=30)
    assert ingest.process is not None
    pid = ingest.process.pid
    idle = rss_bytes(pid)
    bomb = _bomb(attacker)
    assert 200_000 < len(bomb) <= 262_144  # about the 242 KB that took the ingest to 3.5 GB
    with RssSampler(pid) as sampler:
        started = time.monotonic()
        _raw(attacker, TopicKind.TELEMETRY, bomb)
        eventually(
            lambda: (
                _dead_letters(fresh_database, attacker.robot.robot_id, "decompression_failed") == 1
            ),
            timeout=10,
            what="the bomb is dead-lettered",
        )
        elapsed = time.monotonic() - started
        for _ in range(20):  # and twenty more: nothing accumulates
            _raw(attacker, TopicKind.TELEMETRY, bomb)
        eventually(
            lambda: (
                _dead_letters(fresh_database, attacker.robot.robot_id, "decompression_failed") == 21
            ),
            timeout=30,
            what="every bomb is dead-lettered",
        )
    assert elapsed < 1.0, f"dead-lettered after {elapsed:.2f} s"
    growth = sampler.peak - idle
    print(f"bomb: dead-lettered after {elapsed * 1e3:.0f} ms; RSS +{growth / MB:.1f} MB")
    assert growth < 64 * MB, f"peak {sampler.peak / MB:.0f} MB, idle {idle / MB:.0f} MB"
    # The bridge goes on: the other robot's next batch is committed and acknowledged.
    good.publish(TopicKind.TELEMETRY, good.robot.telemetry(samples=60))
    wait_all_acked([good], timeout=30)
    assert ingest.process.poll() is None


def test_a_signed_status_from_beyond_year_9999_is_refused_and_the_ingest_goes_on(
    start_ingest: IngestFactory, robot_link: LinkFactory, fresh_database: CloudSettings
) -> None:
    """A birth whose wall clock the protocol allowed (2**62 us) but no calendar holds: it made
    the ingest exit, then crash-loop on the redelivered message. Protocol 1.2 refuses it."""
    ingest = start_ingest()
    link = robot_link()
    robot = link.robot
    body = {
        0: robot.robot_id.bytes,
        1: robot.boot_id.bytes,
        4: 2**62,
        5: robot.mono_us,
        40: 1,
        41: "5.11.2",
        42: "0.2.0",
        43: 0,
    }
    _raw(link, TopicKind.STATUS, signed_frame(4, body, robot.signer))
    eventually(
        lambda: _dead_letters(fresh_database, robot.robot_id, "bad_field") == 1,
        timeout=10,
        what="the status is dead-lettered",
    )
    # A signed batch at the very bounds 1.2 allows (times 2**54 us, wall -2**54 us) is judged,
    # not a crash: its chain place is taken and acknowledged whatever becomes of its samples.
    link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=2, wall_us=-(2**54)))
    link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=2))
    wait_all_acked([link], timeout=30)
    assert ingest.process is not None
    assert ingest.process.poll() is None
    assert ingest.health()[0] == 200


def test_seq_beyond_a_signed_64_bit_column_is_refused(
    start_ingest: IngestFactory, robot_link: LinkFactory, fresh_database: CloudSettings
) -> None:
    start_ingest()
    link = robot_link()
    robot = link.robot
    body = body_of(_unsent(link, lambda: robot.telemetry(samples=2))) | {2: 2**63}
    _raw(link, TopicKind.TELEMETRY, signed_frame(1, body, robot.signer))
    eventually(
        lambda: _dead_letters(fresh_database, robot.robot_id, "bad_field") == 1,
        timeout=10,
        what="the batch is dead-lettered",
    )
    link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=2))
    wait_all_acked([link], timeout=30)


def _connect(broker: MosquittoBroker, username: str, password: str, client_id: str) -> ReasonCode:
    """What the broker answers a connection with these credentials and client id."""
    answer: list[ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.on_connect = lambda _c, _u, _f, reason, _p: answer.append(reason)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        eventually(lambda: bool(answer), timeout=10, what="a CONNACK")
    finally:
        client.disconnect()
        client.loop_stop()
    return answer[0]


def test_a_robots_account_cannot_take_the_ingests_or_another_robots_client_id(
    start_ingest: IngestFactory,
    robot_link: LinkFactory,
    mqtt_broker: MosquittoBroker,
) -> None:
    ingest = start_ingest()
    victim, attacker = robot_link(), robot_link()
    username, password = mqtt_broker.add_robot(attacker.robot.tenant, attacker.robot.robot_id)
    for stolen_id in (
        ingest.client_id,  # the ingest's session: every tenant's queued telemetry
        f"robot-{victim.robot.robot_id}",
        "robocover-admin",
        "robocover-cloud",
    ):
        reason = _connect(mqtt_broker, username, password, stolen_id)
        assert reason.is_failure, stolen_id
        assert reason.value == 135, f"{stolen_id}: {reason}"  # Not authorized
    # The ingest was never disconnected: its session still delivers, and it still commits.
    victim.publish(TopicKind.TELEMETRY, victim.robot.telemetry(samples=10))
    wait_all_acked([victim], timeout=30)
    status, health = ingest.health()
    assert (status, health["broker_connected"]) == (200, True)
    # Nor can the cloud's accounts be reached with a robot's password.
    for account in ("robocover-ingest-1", "robocover-cloud", "admin"):
        assert _connect(mqtt_broker, account, password, account).is_failure


def test_one_robots_refused_messages_are_stored_up_to_its_budget_then_counted(
    start_ingest: IngestFactory, robot_link: LinkFactory, fresh_database: CloudSettings
) -> None:
    start_ingest(dead_letter_robot_messages_per_hour="50")
    flooder, neighbour = robot_link(), robot_link()
    for index in range(200):
        _raw(flooder, TopicKind.TELEMETRY, b"garbage %d" % index)
    for index in range(5):
        _raw(neighbour, TopicKind.TELEMETRY, b"mistake %d" % index)
    robot = flooder.robot.robot_id

    def counted() -> int:
        rows = query(
            fresh_database,
            "SELECT coalesce(sum(counted_messages), 0) FROM dead_letter_tally WHERE scope = %s",
            f"robot:{robot}",
        )
        return int(rows[0][0])

    eventually(lambda: counted() == 150, timeout=60, what="150 counted past the budget")
    assert _dead_letters(fresh_database, robot, "bad_magic") == 50
    # The neighbour's budget is its own.
    eventually(
        lambda: _dead_letters(fresh_database, neighbour.robot.robot_id, "bad_magic") == 5,
        timeout=30,
        what="the neighbour's dead letters are stored",
    )
    cases = query(
        fresh_database,
        "SELECT category, reason, status FROM review_cases WHERE robot_id = %s",
        robot,
    )
    assert cases == [("conduct", "dead_letter_flood", "open")]


def test_metric_registrations_are_bounded_per_tenant(
    start_ingest: IngestFactory, robot_link: LinkFactory, fresh_database: CloudSettings
) -> None:
    """Every signed batch may carry 256 new metric keys; one global smallint identity once ran
    out after about 128 such batches, for every tenant. Now each tenant has a catalogue with a
    limit, and ids are integers."""
    start_ingest(metric_catalogue_limit="600")
    attacker, other = robot_link("evil-co"), robot_link("good-co")
    for batch in range(4):
        keys = [f"x_evil_m{batch}_{index}" for index in range(256)]
        attacker.publish(
            TopicKind.TELEMETRY,
            attacker.robot.telemetry(samples=1, metrics=keys, exponents=dict.fromkeys(keys, 0)),
        )
    other.publish(TopicKind.TELEMETRY, other.robot.telemetry(samples=5))
    wait_all_acked([attacker, other], timeout=60)  # every batch's place in the chain is taken
    registered = query(
        fresh_database,
        "SELECT t.slug, count(*) FROM tenant_metrics m JOIN tenants t ON t.id = m.tenant_id"
        " GROUP BY t.slug ORDER BY t.slug",
    )
    assert registered == [("evil-co", 512), ("good-co", 20)]
    assert _dead_letters(fresh_database, attacker.robot.robot_id, "metric_catalogue_full") == 2
    cases = query(
        fresh_database,
        "SELECT category, reason, evidence_count FROM review_cases WHERE robot_id = %s",
        attacker.robot.robot_id,
    )
    assert cases == [("conduct", "metric_catalogue_full", 2)]


def _hostile(link: RobotLink, index: int) -> bytes:
    kind = index % 5
    if kind == 0:
        return _bomb(link)
    if kind == 1:  # decodes, then fails verification: the expensive kind of refusal
        template = body_of(_unsent(link, lambda: link.robot.telemetry(samples=60)))
        return garbage_signed_frame(1, template | {2: 10**6 + index})
    if kind == 2:
        return b"RC\x01\x00\x01\x01" + bytes(4) + b"\xff" * 64
    if kind == 3:
        return b"\x00" * 300_000  # too large
    return bytes(range(256)) * 4


def test_a_burst_of_1000_hostile_messages_leaves_another_robots_p99_under_500_ms(
    start_ingest: IngestFactory, robot_link: LinkFactory, fresh_database: CloudSettings
) -> None:
    start_ingest()
    good, attacker = robot_link(), robot_link()
    good.publish(TopicKind.TELEMETRY, good.robot.telemetry(samples=60))
    wait_all_acked([good], timeout=30)
    hostile = [_hostile(attacker, index) for index in range(1000)]
    sent = 0
    started = time.monotonic()
    for step in range(200):  # 200 good batches at about 25 a second...
        for payload in hostile[step * 5 : step * 5 + 5]:  # ...while 1,000 hostile ones arrive
            attacker.client.publish(attacker.robot.topic(TopicKind.TELEMETRY), payload, qos=1)
        good.publish(TopicKind.TELEMETRY, good.robot.telemetry(samples=60))
        sent += 1
        time.sleep(max(0.0, started + (step + 1) * 0.04 - time.monotonic()))
    wait_all_acked([good], timeout=120)
    latencies = sorted(good.acked_at[seq] - good.first_sent_at[seq] for seq in good.sent if seq > 0)
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    assert len(latencies) == sent
    eventually(
        lambda: (
            query(
                fresh_database,
                "SELECT coalesce(sum(stored_messages + counted_messages), 0) FROM dead_letter_tally"
                " WHERE scope = %s",
                f"robot:{attacker.robot.robot_id}",
            )[0][0]
            == 1000
        ),
        timeout=120,
        what="every hostile message is judged",
    )
    print(f"good robot: p50 {statistics.median(latencies) * 1e3:.0f} ms, p99 {p99 * 1e3:.0f} ms")
    assert p99 < 0.5, f"p99 {p99 * 1e3:.0f} ms"
