"""Judging against the real database: presence by connection, what a birth says of the chain,
key rotation by chain position, and one message's failure staying that message's."""

from __future__ import annotations

import time
from typing import Any

import pytest

from firmware_protocol import (
    Event,
    EventBatch,
    EventKind,
    RobotSigner,
    RobotState,
    TopicKind,
    payload_digest,
)
from ingest.bridge import rows
from ingest.bridge.flush import Flusher
from tests.integration.ingest.test_ingest_flush import POLICY, flush, query
from tests.support.fleet import SimRobot, register_robot


def status(robot: SimRobot, state: RobotState, connection: int | None, **fields: Any) -> bytes:
    """A status of `robot` on its `connection` (protocol 1.2's connection_seq)."""
    return robot.status(state, connection_seq=connection, **fields)


def online(database: str) -> list[tuple[object, ...]]:
    return query(database, "SELECT online, presence_connection_seq, presence_state FROM robots")


def test_a_connections_will_comes_after_its_birth_and_an_old_birth_changes_nothing(
    database: str, robot: SimRobot
) -> None:
    topic = robot.topic(TopicKind.STATUS)
    now = time.time_ns() // 1000
    will = status(robot, RobotState.OFFLINE, 5, wall_us=now - 1000)  # signed at connect...
    birth = status(robot, RobotState.ONLINE, 5, wall_us=now)  # ...before the birth
    flush(database, (topic, birth))
    assert online(database) == [(True, 5, 1)]
    flush(database, (topic, will))  # the broker publishes it when the robot dies
    assert online(database) == [(False, 5, 2)]
    old = status(robot, RobotState.ONLINE, 4, wall_us=now + 10_000_000)  # replayed, "newer" clock
    flush(database, (topic, old))
    assert online(database) == [(False, 5, 2)]
    flush(database, (topic, status(robot, RobotState.ONLINE, 6)))  # it comes back
    assert online(database) == [(True, 6, 1)]
    # In one flush, the newest by (connection, state) wins whatever the order of arrival.
    flush(
        database,
        (topic, status(robot, RobotState.OFFLINE, 7)),
        (topic, status(robot, RobotState.ONLINE, 7)),
    )
    assert online(database) == [(False, 7, 2)]


def test_robots_without_connection_seq_are_ordered_by_their_clock(
    database: str, robot: SimRobot
) -> None:
    topic = robot.topic(TopicKind.STATUS)
    now = time.time_ns() // 1000
    flush(database, (topic, status(robot, RobotState.ONLINE, None, wall_us=now)))
    flush(database, (topic, status(robot, RobotState.OFFLINE, None, wall_us=now - 5)))
    assert online(database) == [(True, None, 1)]
    flush(database, (topic, status(robot, RobotState.OFFLINE, None, wall_us=now + 5)))
    assert online(database) == [(False, None, 2)]
    # Once on 1.2, a status without the count (an old will still in the broker) is ignored.
    flush(database, (topic, status(robot, RobotState.ONLINE, 1)))
    flush(database, (topic, status(robot, RobotState.OFFLINE, None, wall_us=now + 10**9)))
    assert online(database) == [(True, 1, 1)]


def test_a_birth_makes_the_robot_owe_what_it_never_sent(database: str, robot: SimRobot) -> None:
    telemetry = robot.topic(TopicKind.TELEMETRY)
    sent = [robot.telemetry(samples=2) for _ in range(2)]
    withheld = robot.skip(4)  # seqs 2..5: made, then deleted before they were ever sent
    flush(database, *((telemetry, p) for p in sent))
    flush(database, (robot.topic(TopicKind.STATUS), status(robot, RobotState.ONLINE, 1)))
    open_gaps = "SELECT first_seq, last_seq, resolution FROM sequence_gaps ORDER BY first_seq"
    assert query(database, open_gaps) == [(2, 5, None)]
    flush(database, *((telemetry, p) for p in withheld[:2]))
    filled = [(2, 2, "filled"), (3, 3, "filled")]
    assert query(database, open_gaps) == [*filled, (4, 5, None)]
    # The next batch comes after what is owed: no new gap opens before it.
    flush(database, (telemetry, robot.telemetry(samples=2)))
    assert query(database, open_gaps) == [*filled, (4, 5, None)]


def test_a_birth_whose_head_contradicts_the_chain_is_tampering(
    database: str, robot: SimRobot
) -> None:
    flush(database, (robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=2)))
    forged = status(robot, RobotState.ONLINE, 1, head_digest=bytes(range(32)))
    outcome = flush(database, (robot.topic(TopicKind.STATUS), forged))
    assert outcome.dead_letters == {"tampered_status_head": 1}
    assert online(database) == [(False, None, None)]
    cases = query(database, "SELECT category, reason, evidence -> 0 ->> 'seq' FROM review_cases")
    assert cases == [("tamper", "tampered_status_head", "0")]
    honest = status(robot, RobotState.ONLINE, 2, head_digest=robot.last_digest)
    assert flush(database, (robot.topic(TopicKind.STATUS), honest)).dead_letters == {}
    assert online(database) == [(True, 2, 1)]


def test_a_newer_birth_claiming_less_than_is_held_is_reviewed(
    database: str, robot: SimRobot
) -> None:
    flush(database, *((robot.topic(TopicKind.TELEMETRY), robot.telemetry()) for _ in range(4)))
    rolled_back = status(robot, RobotState.ONLINE, 3, next_seq=2)  # its chain state restored
    flush(database, (robot.topic(TopicKind.STATUS), rolled_back))
    assert query(database, "SELECT category, reason FROM review_cases") == [
        ("conduct", "chain_rollback")
    ]


def _request_rotation(database: str, robot: SimRobot) -> int:
    rows_ = query(
        database,
        "INSERT INTO credential_rotations (robot_id, requested_by, expires_at,"
        " new_mqtt_username, config_version) VALUES (%s, 'test', now() + interval '1 day',"
        " %s, 1) RETURNING id",
        robot.robot_id,
        f"robot-{robot.robot_id}-r",
    )
    return int(rows_[0][0])


def _key_rotated(robot: SimRobot, rotation: int, new_key: bytes) -> bytes:
    event = Event(EventKind.KEY_ROTATED, robot.mono_us, code=str(rotation), public_key=new_key)
    return robot.events(event)


def test_a_key_rotation_takes_effect_at_its_seq_whenever_messages_arrive(
    database: str, robot: SimRobot
) -> None:
    telemetry, events = robot.topic(TopicKind.TELEMETRY), robot.topic(TopicKind.EVENTS)
    rotation = _request_rotation(database, robot)
    old_signed = robot.telemetry(samples=2)  # seq 0, in flight while the robot rotates
    new = RobotSigner.generate()
    announcement = _key_rotated(robot, rotation, new.public_key)  # seq 1, old key
    robot.signer = new
    after = [robot.telemetry(samples=2) for _ in range(2)]  # seqs 2, 3, new key
    # The announcement and the first messages of the new key in one flush, the in-flight one
    # last: each verifies with the key in force at its seq.
    outcome = flush(database, (events, announcement), (telemetry, after[0]))
    assert outcome.dead_letters == {}
    assert flush(database, (telemetry, after[1]), (telemetry, old_signed)).dead_letters == {}
    spans = query(
        database, "SELECT first_seq, last_seq, public_key FROM robot_keys ORDER BY first_seq"
    )
    assert [(s[0], s[1]) for s in spans] == [(0, 1), (2, None)]
    assert spans[1][2] == new.public_key
    assert query(database, "SELECT state, confirmed_seq FROM credential_rotations") == [
        ("confirmed", 1)
    ]
    assert query(database, "SELECT signing_public_key FROM robots") == [(new.public_key,)]
    assert query(database, "SELECT count(*) FROM batch_receipts") == [(4,)]
    # The old key signs nothing after its last seq.
    robot.signer = RobotSigner.from_seed(b"\x00" * 32)
    impostor = flush(database, (telemetry, robot.telemetry(samples=2)))
    assert impostor.dead_letters == {"bad_signature": 1}


def test_a_message_under_a_key_not_yet_announced_waits_without_a_case(
    database: str, robot: SimRobot
) -> None:
    _request_rotation(database, robot)
    robot.signer = RobotSigner.generate()  # the announcement is still on its way
    outcome = flush(database, (robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=2)))
    assert outcome.dead_letters == {"key_pending_rotation": 1}
    assert outcome.committed == {}  # not acknowledged: the robot sends it again
    assert query(database, "SELECT count(*) FROM review_cases") == [(0,)]


def test_an_unrequested_key_rotation_changes_no_key(database: str, robot: SimRobot) -> None:
    new = RobotSigner.generate()
    flush(database, (robot.topic(TopicKind.EVENTS), _key_rotated(robot, 99, new.public_key)))
    assert query(database, "SELECT count(*) FROM robot_keys") == [(1,)]
    robot.signer = new
    outcome = flush(database, (robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=2)))
    assert outcome.dead_letters == {"bad_signature": 1}


def test_one_message_failing_to_be_judged_is_its_own_dead_letter(
    database: str, robot: SimRobot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault injected into judging one event batch (as a bug would): that message is
    dead-lettered as judging_error, acknowledged to nobody, and the rest of the flush lands."""
    original = rows.event_rows

    def failing(batch: EventBatch, shift_us: int) -> list[tuple[object, ...]]:
        if batch.events[0].code == "boom":
            raise ValueError("injected")
        return original(batch, shift_us)

    monkeypatch.setattr(rows, "event_rows", failing)
    signer = RobotSigner.generate()
    other = SimRobot("acme", register_robot(database, signer), signer)
    bad = robot.events(Event(EventKind.FAULT, robot.mono_us, code="boom"))
    outcome = flush(
        database,
        (robot.topic(TopicKind.EVENTS), bad),
        (other.topic(TopicKind.TELEMETRY), other.telemetry(samples=2)),
    )
    assert outcome.dead_letters == {"judging_error": 1}
    assert outcome.committed == {other.robot_id: ("acme", [0])}
    assert query(database, "SELECT reason, payload FROM dead_letters") == [("judging_error", bad)]
    assert payload_digest(bad) not in {
        r[0] for r in query(database, "SELECT digest FROM batch_receipts")
    }


def test_the_flusher_keeps_tenant_catalogues_between_flushes(
    database: str, robot: SimRobot
) -> None:
    flusher = Flusher(POLICY)
    flush(database, (robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=2)), flusher=flusher)
    flush(database, (robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=2)), flusher=flusher)
    assert query(database, "SELECT count(*) FROM tenant_metrics") == [(20,)]


def test_a_tail_rewritten_after_a_birth_stated_it_is_tampering(
    database: str, robot: SimRobot
) -> None:
    telemetry = robot.topic(TopicKind.TELEMETRY)
    flush(database, (telemetry, robot.telemetry(samples=2)))  # seq 0
    start_seq, start_digest = robot.seq, robot.last_digest
    robot.skip(3)  # seqs 1..3, not sent yet
    stated = status(robot, RobotState.ONLINE, 1, head_digest=robot.last_digest)
    flush(database, (robot.topic(TopicKind.STATUS), stated))  # says seq 3 is this message
    robot.seq, robot.last_digest = start_seq, start_digest  # the owner rewrites 1..3
    rewritten = [robot.telemetry(samples=3) for _ in range(3)]
    restated = status(robot, RobotState.ONLINE, 2, head_digest=robot.last_digest)
    outcome = flush(database, (robot.topic(TopicKind.STATUS), restated))
    assert outcome.dead_letters == {"tampered_status_head": 1}
    outcome = flush(database, *((telemetry, p) for p in rewritten))
    assert outcome.dead_letters == {"tampered_claimed_head": 1}  # seq 3: not what was stated
    cases = query(database, "SELECT category, evidence_count FROM review_cases")
    assert cases == [("tamper", 2)]


def test_a_birth_judged_beside_a_later_message_is_no_rollback(
    database: str, robot: SimRobot
) -> None:
    flush(database, (robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=2)))
    birth = status(robot, RobotState.ONLINE, 1)  # next_seq 1, made at connect...
    after = robot.telemetry(samples=2)  # ...then seq 1, sent right after it
    flush(
        database,
        (robot.topic(TopicKind.STATUS), birth),
        (robot.topic(TopicKind.TELEMETRY), after),
    )
    assert query(database, "SELECT count(*) FROM review_cases") == [(0,)]


def test_during_a_rotation_only_what_may_follow_the_announcement_is_waited_for(
    database: str, robot: SimRobot
) -> None:
    flush(database, *((robot.topic(TopicKind.TELEMETRY), robot.telemetry()) for _ in range(3)))
    _request_rotation(database, robot)
    robot.seq = 1  # seq 1 again, under another key
    robot.signer = RobotSigner.generate()
    outcome = flush(database, (robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=2)))
    assert outcome.dead_letters == {"bad_signature": 1}  # below the held head: no excuse
    query(
        database,
        "UPDATE credential_rotations SET expires_at = now() - interval '1 s' RETURNING id",
    )
    robot.seq = 3
    outcome = flush(database, (robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=2)))
    assert outcome.dead_letters == {"bad_signature": 1}  # the window is over
