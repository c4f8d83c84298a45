"""What fuzzing the judging path (fuzz/fuzz_judge.py) found, each as a regression test on the
real database: a message the protocol allows made the whole flush fail."""

from __future__ import annotations

import pytest

from firmware_protocol import Event, EventKind, RobotSigner, TopicKind
from firmware_protocol.limits import MAX_UINT
from tests.integration.ingest.test_ingest_flush import flush, query
from tests.support.fleet import SimRobot, register_robot


def _robot(database: str) -> SimRobot:
    signer = RobotSigner.generate()
    return SimRobot("acme", register_robot(database, signer), signer)


@pytest.fixture
def robot(database: str) -> SimRobot:
    return _robot(database)


def _request_rotation(database: str, robot: SimRobot) -> int:
    return int(
        query(
            database,
            "INSERT INTO credential_rotations (robot_id, requested_by, expires_at,"
            " new_mqtt_username, config_version) VALUES (%s, 'test', now() + interval '1 day',"
            " %s, 1) RETURNING id",
            robot.robot_id,
            f"robot-{robot.robot_id}-r",
        )[0][0]
    )


def _key_rotated(robot: SimRobot, rotation: int, key: bytes) -> bytes:
    return robot.events(
        Event(EventKind.KEY_ROTATED, robot.mono_us, code=str(rotation), public_key=key)
    )


def test_a_message_at_the_largest_seq_is_judged_like_any_other(
    database: str, robot: SimRobot
) -> None:
    """Found: the flush asked the database for seq + 1 of a message at 2**63 - 1 (bigint out
    of range), and failed with everything in it."""
    telemetry = robot.topic(TopicKind.TELEMETRY)
    first = robot.telemetry(samples=2)
    robot.seq = MAX_UINT
    last = robot.telemetry(samples=2)
    outcome = flush(database, (telemetry, first), (telemetry, last))
    assert outcome.dead_letters == {}
    assert outcome.committed == {robot.robot_id: ("acme", [0, MAX_UINT])}
    assert query(database, "SELECT chain_head_seq FROM robots") == [(MAX_UINT,)]
    assert query(database, "SELECT first_seq, last_seq FROM sequence_gaps") == [(1, MAX_UINT - 1)]
    again = flush(database, (telemetry, last))  # its redelivery: a duplicate, acknowledged
    assert (again.duplicates, again.dead_letters) == (1, {})


def test_a_drop_reason_the_protocol_does_not_name_is_kept_as_sent(
    database: str, robot: SimRobot
) -> None:
    """Found: reasons 32768..65535 (the protocol allows 1..65535) did not fit a smallint."""
    dropped = robot.skip(2)
    notice = robot.drop_notice(dropped, first_seq=0, reason=65_535)
    outcome = flush(database, (robot.topic(TopicKind.EVENTS), notice))
    assert outcome.dead_letters == {}
    assert query(database, "SELECT first_seq, last_seq, reason FROM drop_notices") == [
        (0, 1, 65_535)
    ]


def test_a_rotation_to_a_key_already_in_use_installs_nothing_and_is_reviewed(
    database: str, robot: SimRobot
) -> None:
    """Found: announcing a key robot_keys already held (the robot's own, another robot's)
    broke its unique index and failed the flush. Now the announcement is taken as evidence,
    the key is not installed, the rotation stays pending and a tamper case opens."""
    other = _robot(database)
    rotation = _request_rotation(database, robot)
    events = robot.topic(TopicKind.EVENTS)
    outcome = flush(
        database,
        (events, _key_rotated(robot, rotation, other.signer.public_key)),
        (events, _key_rotated(robot, rotation, robot.signer.public_key)),
    )
    assert outcome.dead_letters == {}
    assert outcome.committed == {robot.robot_id: ("acme", [0, 1])}
    assert query(database, "SELECT state FROM credential_rotations") == [("requested",)]
    assert query(
        database, "SELECT signing_public_key FROM robots WHERE id = %s", robot.robot_id
    ) == [(robot.signer.public_key,)]
    assert query(database, "SELECT count(*) FROM robot_keys WHERE last_seq IS NOT NULL") == [(0,)]
    assert query(database, "SELECT robot_id, category, reason FROM review_cases") == [
        (robot.robot_id, "tamper", "rotation_key_reused")
    ]
    assert query(database, "SELECT evidence_count FROM review_cases") == [(2,)]


def test_an_announcement_delivered_twice_rotates_once_and_old_statuses_still_verify(
    database: str, robot: SimRobot
) -> None:
    """The same KEY_ROTATED twice in one flush (a resumed broker session and the robot's
    resend), with the birth the robot signed with its old key before switching: one rotation,
    and the birth verifies (found by tests/adversarial: the second copy retired the new key)."""
    rotation = _request_rotation(database, robot)
    birth = robot.status()
    new = RobotSigner.generate()
    announcement = _key_rotated(robot, rotation, new.public_key)
    events, status = robot.topic(TopicKind.EVENTS), robot.topic(TopicKind.STATUS)
    outcome = flush(database, (events, announcement), (status, birth), (events, announcement))
    assert outcome.dead_letters == {}
    assert query(
        database, "SELECT first_seq, last_seq, public_key FROM robot_keys ORDER BY first_seq"
    ) == [(0, 0, robot.signer.public_key), (1, None, new.public_key)]
    assert query(database, "SELECT state, confirmed_seq FROM credential_rotations") == [
        ("confirmed", 0)
    ]
