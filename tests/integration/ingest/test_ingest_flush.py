"""A flush against the real database: what is written, deduplicated, refused and recorded."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import numpy as np
import psycopg
import pytest

from firmware_protocol import (
    Event,
    EventKind,
    RobotSigner,
    RobotState,
    Severity,
    TelemetryBatch,
    TopicKind,
    encode,
)
from ingest.bridge.flush import Flusher, FlushOutcome, FlushPolicy, Inbound
from tests.support.fleet import TYPICAL_METRICS, SimRobot, register_robot

POLICY = FlushPolicy(clock_skew_threshold_us=2_000_000, max_future_us=300_000_000)


def flush(
    database: str, *messages: tuple[str, bytes], flusher: Flusher | None = None
) -> FlushOutcome:
    async def run() -> FlushOutcome:
        now = time.time_ns() // 1000
        inbound = [Inbound(topic, payload, now) for topic, payload in messages]
        async with (
            await psycopg.AsyncConnection.connect(database) as conn,
            conn.transaction(),
        ):
            return await (flusher or Flusher(POLICY)).flush(conn, inbound)

    return asyncio.run(run())


def query(database: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database) as conn:
        return conn.execute(sql, params).fetchall()


def test_a_batch_becomes_rows_rollups_a_receipt_and_an_ack(database: str, robot: SimRobot) -> None:
    payload = robot.telemetry(samples=60)
    outcome = flush(database, (robot.topic(TopicKind.TELEMETRY), payload))
    assert (outcome.accepted, outcome.samples, outcome.duplicates) == (1, 60 * 20, 0)
    assert outcome.committed == {robot.robot_id: ("acme", [0])}
    assert query(database, "SELECT count(*), count(DISTINCT metric_id) FROM telemetry") == [
        (1200, 20)
    ]
    rollup = query(
        database,
        "SELECT sum(samples), round(sum(total)::numeric, 6) FROM telemetry_hourly",
    )
    raw = query(database, "SELECT count(*), round(sum(value)::numeric, 6) FROM telemetry")
    assert rollup == raw
    head = query(database, "SELECT chain_head_seq, last_seen_at IS NOT NULL FROM robots")
    assert head == [(0, True)]
    keys = {row[0] for row in query(database, "SELECT key FROM metrics")}
    assert keys == set(TYPICAL_METRICS)


def test_redelivery_is_a_duplicate_that_writes_nothing(database: str, robot: SimRobot) -> None:
    topic, payload = robot.topic(TopicKind.TELEMETRY), robot.telemetry()
    flush(database, (topic, payload))
    again = flush(database, (topic, payload), (topic, payload))
    assert (again.accepted, again.duplicates) == (0, 2)
    assert again.committed == {robot.robot_id: ("acme", [0, 0])}
    assert query(database, "SELECT count(*) FROM telemetry") == [(1200,)]
    assert query(database, "SELECT sum(samples) FROM telemetry_hourly") == [(1200,)]


def test_rollups_stay_exact_under_late_and_out_of_order_batches(
    database: str, robot: SimRobot
) -> None:
    hour_us = 3_600_000_000
    # Half past the previous hour: each batch's 30 s stay within one hour whatever the time.
    half_past_us = (time.time_ns() // 1000 // hour_us) * hour_us - hour_us // 2
    early = robot.telemetry(samples=30, wall_us=half_past_us - 2 * hour_us)
    late = robot.telemetry(samples=30, wall_us=half_past_us)
    topic = robot.topic(TopicKind.TELEMETRY)
    flush(database, (topic, late))
    flush(database, (topic, early))  # arrives after a later one: fills the gap and its hour
    by_hour = query(
        database,
        "SELECT h.bucket, h.samples, round(h.total::numeric, 6), round(h.minimum::numeric, 6),"
        " round(h.maximum::numeric, 6), h.last_time, h.last_value FROM telemetry_hourly h"
        " JOIN metrics m ON m.id = h.metric_id WHERE m.key = 'battery_soc_pct' ORDER BY 1",
    )
    expected = query(
        database,
        "SELECT date_trunc('hour', time), count(*), round(sum(value)::numeric, 6),"
        " round(min(value)::numeric, 6), round(max(value)::numeric, 6), max(time),"
        " (array_agg(value ORDER BY time DESC))[1] FROM telemetry t JOIN metrics m"
        " ON m.id = t.metric_id WHERE m.key = 'battery_soc_pct' GROUP BY 1 ORDER BY 1",
    )
    assert by_hour == expected
    assert len(by_hour) == 2


def test_gaps_open_split_and_close_by_arrival_or_drop_notice(
    database: str, robot: SimRobot
) -> None:
    topic = robot.topic(TopicKind.TELEMETRY)
    first = robot.telemetry(samples=2)  # seq 0
    held_back = robot.telemetry(samples=2)  # seq 1, arrives late
    dropped = robot.skip(2)  # seqs 2-3, discarded by the robot
    fourth = robot.telemetry(samples=2)  # seq 4
    outcome = flush(database, (topic, first), (topic, fourth))
    assert outcome.gaps_opened == 1
    assert query(database, "SELECT first_seq, last_seq, resolution FROM sequence_gaps") == [
        (1, 3, None)
    ]
    flush(database, (topic, held_back))
    notice = robot.drop_notice(dropped, first_seq=2, dropped_samples=4)  # seq 5, protocol 1.1
    flush(database, (robot.topic(TopicKind.EVENTS), notice))
    gaps = query(
        database,
        "SELECT first_seq, last_seq, resolution, closed_at IS NOT NULL FROM sequence_gaps"
        " ORDER BY first_seq",
    )
    assert gaps == [(1, 1, "filled", True), (2, 3, "dropped", True)]
    assert query(
        database, "SELECT first_seq, last_seq, reason, dropped_samples FROM drop_notices"
    ) == [(2, 3, 1, 4)]
    assert query(database, "SELECT chain_head_seq FROM robots") == [(5,)]


def test_a_forked_history_is_refused_and_the_robot_flagged(database: str, robot: SimRobot) -> None:
    topic = robot.topic(TopicKind.TELEMETRY)
    original = robot.telemetry(samples=3)
    flush(database, (topic, original))
    robot.seq, robot.last_digest = 0, bytes(32)  # the owner re-signs seq 0 with other values
    forged = robot.telemetry(samples=3)
    outcome = flush(database, (topic, forged))
    assert outcome.dead_letters == {"tampered_fork": 1}
    assert query(database, "SELECT count(*) FROM telemetry") == [(60,)]
    cases = query(
        database,
        "SELECT category, reason, status, evidence_count, evidence -> 0 ->> 'reason',"
        " (evidence -> 0 ->> 'dead_letter_id')::bigint = (SELECT id FROM dead_letters)"
        " FROM review_cases",
    )
    assert cases == [("tamper", "tampered_fork", "open", 1, "tampered_fork", True)]
    assert query(database, "SELECT reason, payload FROM dead_letters") == [
        ("tampered_fork", forged)
    ]
    assert query(database, "SELECT action, actor FROM review_case_actions") == [
        ("opened", "ingest")
    ]


def test_a_broken_back_link_is_tampering(database: str, robot: SimRobot) -> None:
    topic = robot.topic(TopicKind.TELEMETRY)
    flush(database, (topic, robot.telemetry(samples=2)))
    robot.last_digest = bytes(range(32))  # claims a predecessor we do not hold
    outcome = flush(database, (topic, robot.telemetry(samples=2)))
    assert outcome.dead_letters == {"tampered_broken_back_link": 1}


def test_a_signature_by_another_key_is_refused_and_flagged(database: str, robot: SimRobot) -> None:
    impostor = SimRobot("acme", robot.robot_id, RobotSigner.generate())
    outcome = flush(database, (robot.topic(TopicKind.TELEMETRY), impostor.telemetry()))
    assert outcome.dead_letters == {"bad_signature": 1}
    assert query(database, "SELECT category, reason FROM review_cases") == [
        ("tamper", "bad_signature")
    ]
    assert query(database, "SELECT count(*) FROM telemetry") == [(0,)]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("rc/v1/acme/not-a-uuid/telemetry", b"\x00", "bad_topic"),
        ("weather/today", b"sunny", "bad_topic"),
        (f"rc/v1/acme/{uuid.uuid4()}/telemetry", b"", "truncated"),
        (f"rc/v1/acme/{uuid.uuid4()}/telemetry", b"RC\x02\x00", "truncated"),
        (
            f"rc/v1/acme/{uuid.uuid4()}/telemetry",
            b"RC\x02\x00\x01\x01\x00\x00\x00\x00",
            "unsupported_major_version",
        ),
        (f"rc/v1/acme/{uuid.uuid4()}/telemetry", b"garbage!!!!!!", "bad_magic"),
        (f"rc/v1/acme/{uuid.uuid4()}/telemetry", b"x" * 300_000, "too_large"),
    ],
)
def test_malformed_traffic_goes_to_dead_letters_with_its_bytes(
    database: str, topic: str, payload: bytes, reason: str
) -> None:
    outcome = flush(database, (topic, payload))
    assert outcome.dead_letters == {reason: 1}
    assert query(database, "SELECT topic, payload, reason FROM dead_letters") == [
        (topic, payload, reason)
    ]


def test_unknown_inactive_and_misplaced_robots_are_refused(database: str, robot: SimRobot) -> None:
    stranger = SimRobot("acme", uuid.uuid4(), RobotSigner.generate())
    signer = RobotSigner.generate()
    revoked = SimRobot("acme", register_robot(database, signer, status="revoked"), signer)
    misplaced = SimRobot("other-co", robot.robot_id, robot.signer)
    outcome = flush(
        database,
        (stranger.topic(TopicKind.TELEMETRY), stranger.telemetry()),
        (revoked.topic(TopicKind.TELEMETRY), revoked.telemetry()),
        (misplaced.topic(TopicKind.TELEMETRY), misplaced.telemetry()),
        (robot.topic(TopicKind.EVENTS), robot.telemetry()),  # telemetry on the events topic
    )
    assert outcome.dead_letters == {
        "unknown_robot": 1,
        "robot_revoked": 1,
        "tenant_mismatch": 1,
        "kind_topic_mismatch": 1,
    }
    assert outcome.accepted == 0


def test_far_future_samples_are_refused_but_the_chain_stays_whole(
    database: str, robot: SimRobot
) -> None:
    """Samples an hour after the batch's own clock reading cannot be true: the batch goes to
    dead letters, yet its receipt keeps the chain whole and the robot may forget it."""
    batch = TelemetryBatch.from_values(
        robot_id=robot.robot_id,
        boot_id=robot.boot_id,
        seq=0,
        prev_digest=bytes(32),
        wall_us=time.time_ns() // 1000,
        mono_us=robot.mono_us,
        timestamps_us=robot.mono_us + 3_600_000_000 + np.arange(5),
        series={"speed_m_s": np.ones(5)},
    )
    outcome = flush(database, (robot.topic(TopicKind.TELEMETRY), encode(batch, robot.signer)))
    assert outcome.dead_letters == {"future_timestamp": 1}
    assert query(database, "SELECT seq, sample_count FROM batch_receipts") == [(0, 0)]
    assert query(database, "SELECT count(*) FROM telemetry") == [(0,)]
    assert outcome.committed == {robot.robot_id: ("acme", [0])}


@pytest.mark.parametrize(
    ("device_offset_h", "corrected"),
    [
        (+1.0, True),  # ahead: nothing arrives before it was made, so this is skew
        (-2.0, False),  # behind but plausible: a batch that waited in the outbox
        (-24 * 365 * 50, True),  # a clock reset to its epoch, before the robot was registered
    ],
)
def test_device_clocks_are_corrected_only_when_they_must_be_and_both_times_kept(
    database: str, robot: SimRobot, device_offset_h: float, corrected: bool
) -> None:
    hour_us = 3_600_000_000
    device_now = time.time_ns() // 1000 + int(device_offset_h * hour_us)
    flush(
        database,
        (robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=10, wall_us=device_now)),
    )
    offset_h, shift_h = query(
        database, "SELECT clock_offset_s / 3600, clock_shift_s / 3600 FROM batch_receipts"
    )[0]
    assert round(offset_h, 1) == device_offset_h
    assert round(shift_h, 1) == (-device_offset_h if corrected else 0)
    lag_h = query(database, "SELECT extract(epoch FROM now() - max(time)) / 3600 FROM telemetry")
    expected_lag_h = 0 if corrected else -device_offset_h
    assert abs(float(lag_h[0][0]) - expected_lag_h) < 0.1


def test_a_boots_freshest_message_sets_its_clock_estimate(database: str, robot: SimRobot) -> None:
    """A late first batch must not be taken for skew once a fresher one shows the clock right."""
    now_us, hour_us = time.time_ns() // 1000, 3_600_000_000
    topic = robot.topic(TopicKind.TELEMETRY)
    old = robot.telemetry(samples=5, wall_us=now_us - 3 * hour_us)
    fresh = robot.telemetry(samples=5, wall_us=now_us)
    flush(database, (topic, old), (topic, fresh))
    assert query(database, "SELECT sum(clock_shift_s) FROM batch_receipts") == [(0.0,)]
    assert query(database, "SELECT max_offset_us / 1000000 > -60 FROM robot_clocks") == [(True,)]


def test_events_are_stored_by_kind_with_their_details(database: str, robot: SimRobot) -> None:
    payload = robot.events(
        Event(
            kind=EventKind.COLLISION, mono_us=robot.mono_us, severity=Severity.ERROR, value=120.0
        ),
        Event(kind=EventKind.PROTECTIVE_STOP, mono_us=robot.mono_us + 1, code="safety_zone"),
    )
    outcome = flush(database, (robot.topic(TopicKind.EVENTS), payload))
    assert outcome.accepted == 1
    rows = query(
        database,
        "SELECT position, kind, code, severity, detail->>'value' FROM robot_events ORDER BY 1",
    )
    assert rows == [
        (0, "collision", None, 2, "120.0"),
        (1, "protective_stop", "safety_zone", 0, None),
    ]


def test_status_reports_set_presence_newest_first(database: str, robot: SimRobot) -> None:
    topic = robot.topic(TopicKind.STATUS)
    now_us = time.time_ns() // 1000
    birth = robot.status(RobotState.ONLINE, wall_us=now_us)
    stale_will = robot.status(RobotState.OFFLINE, wall_us=now_us - 60_000_000)
    flush(database, (topic, birth))
    flush(database, (topic, stale_will))  # older than the birth already applied
    assert query(database, "SELECT online, firmware_version, software_version FROM robots") == [
        (True, "5.11.2", "0.1.0")
    ]
    flush(database, (topic, robot.status(RobotState.OFFLINE, wall_us=now_us + 1)))
    assert query(database, "SELECT online FROM robots") == [(False,)]
