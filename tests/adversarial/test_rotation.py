"""Credential rotation with a real agent and what an attacker can do around it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable

import pytest

from firmware_protocol import (
    Event,
    EventKind,
    RobotSigner,
    RobotState,
    TopicKind,
)
from tests.adversarial.agents import (
    key_rotated_seq,
    landed_exactly_once,
    signed_by,
)
from tests.adversarial.lab import (
    Lab,
    account_accepted,
)
from tests.support.ingest_process import RobotLink, eventually, wait_all_acked

pytestmark = pytest.mark.adversarial


def test_credential_rotation_end_to_end_with_a_real_agent(
    lab: Lab,
) -> None:
    """`robocover robots rotate --wait-s 60` against a real agent. The ingest is away when the
    request comes, so the agent's outbox holds messages signed with its old key when it
    rotates. The agent opens the sealed account, appends KEY_ROTATED signed with the old key,
    switches key and account; the ingest comes back, takes the old-key messages, the
    announcement and the new-key ones; the command settles the rotation: the old account is
    deleted. Nothing is lost, nothing dead-lettered."""
    ingest = lab.start_ingest()
    agent = lab.new_agent()
    robot_id = agent.robot_id
    old_identity, old_key = agent.identity, agent.public_key()
    agent.start()
    eventually(lambda: len(lab.db.receipts(robot_id)) >= 3, 30, "telemetry lands", agent.log_text)
    ingest.kill(signal.SIGTERM)
    eventually(lambda: len(agent.pending()) >= 3, 30, "the outbox fills with old-key messages")

    with subprocess.Popen(
        lab.cli.command(
            "robots", "rotate", str(robot_id), "--by", "erin@insurer", "--wait-s", "60"
        ),
        env=lab.cli.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as rotate:
        try:
            eventually(lambda: agent.state("rotation") is not None, 30, "the agent rotates")
            state = json.loads(agent.state("rotation") or b"{}")
            rotation_id = int(state["id"])
            at_rotation = agent.pending()
            announced = key_rotated_seq(at_rotation, rotation_id)
            assert announced is not None, "KEY_ROTATED is not in the outbox"
            old_signed = [seq for seq, _, payload in at_rotation if seq < announced]
            assert len(old_signed) >= 3
            for seq, _, payload in at_rotation:
                if seq <= announced:  # the announcement itself is signed with the old key
                    assert signed_by(payload, old_key), seq
            new_key = bytes.fromhex(state["public_key"])
            assert new_key != old_key
            for seq, _, payload in at_rotation:
                if seq > announced:
                    assert signed_by(payload, new_key), seq
            ingest.start()  # its broker session kept what came meanwhile
            out, err = rotate.communicate(timeout=90)
        finally:
            if rotate.poll() is None:
                rotate.kill()
                rotate.communicate()
    assert rotate.returncode == 0, (out, err)
    assert f"rotation {rotation_id} completed" in out

    new_username = f"robot-{robot_id}-r{rotation_id}"
    assert agent.current_identity().mqtt_username == new_username
    assert agent.public_key() == new_key
    assert lab.db.rows(
        "SELECT state, confirmed_seq, new_public_key, old_mqtt_username, new_mqtt_username"
        " FROM credential_rotations WHERE robot_id = %s",
        robot_id,
    ) == [("completed", announced, new_key, old_identity.mqtt_username, new_username)]
    spans = lab.db.rows(
        "SELECT first_seq, last_seq, public_key, rotation_id, retired_at IS NOT NULL"
        " FROM robot_keys WHERE robot_id = %s ORDER BY first_seq",
        robot_id,
    )
    assert spans == [
        (0, announced, old_key, None, True),
        (announced + 1, None, new_key, rotation_id, False),
    ]
    assert lab.db.rows(
        "SELECT signing_public_key, mqtt_username FROM robots WHERE id = %s", robot_id
    ) == [(new_key, new_username)]
    # The old account is gone from the broker: its password no longer opens anything.
    assert not account_accepted(lab.broker, old_identity)
    with lab.broker.admin() as admin:
        answer = admin.execute([{"command": "getClient", "username": old_identity.mqtt_username}])
    assert answer[0].get("error") == "Client not found"

    # Both keys' messages are in, without a hole, and none was refused.
    eventually(
        lambda: len(lab.db.receipts(robot_id)) >= announced + 5, 30, "new-key telemetry lands"
    )
    assert agent.signal(signal.SIGTERM) == 0
    final = agent.next_seq()
    assert agent.pending() == []
    eventually(lambda: lab.db.receipts(robot_id) == list(range(final)), 15, "every seq, once")
    assert set(old_signed) <= set(lab.db.receipts(robot_id))
    assert landed_exactly_once(lab.db, robot_id) == []
    assert lab.db.open_gaps(robot_id) == []
    assert lab.db.dead_letters(robot_id) == []
    assert lab.db.rows(
        "SELECT seq, code, detail->>'public_key' FROM robot_events WHERE robot_id = %s"
        " AND kind = 'key_rotated'",
        robot_id,
    ) == [(announced, str(rotation_id), new_key.hex())]
    assert [
        row[:2]
        for row in lab.db.rows(
            "SELECT actor, action FROM robot_actions WHERE robot_id = %s ORDER BY id", robot_id
        )
    ] == [
        ("erin@insurer", "rotation_requested"),
        ("ingest", "key_rotated"),
        ("robocover", "rotation_completed"),
    ]
    # No tamper case. (This scenario also opens a conduct case, chain_rollback, which is a
    # false positive of its own: test_a_birth_judged_beside_later_messages_is_no_rollback.)
    assert (
        lab.db.value(
            "SELECT count(*) FROM review_cases WHERE robot_id = %s AND category = 'tamper'",
            robot_id,
        )
        == 0
    )


def test_a_key_rotated_event_nobody_asked_for_changes_no_key(
    lab: Lab, robot_link: Callable[..., RobotLink]
) -> None:
    """The owner announces a key of their own (KEY_ROTATED, signed with the enrolled key) when
    the cloud asked for no rotation, then signs with it: the announcement is only an event in
    the chain, the key in force stays, and what the unannounced key signs is refused as
    bad_signature and opens a tamper case. With a rotation pending, an announcement answering
    another rotation id changes nothing either."""
    lab.start_ingest()
    link = robot_link()
    robot = link.robot
    enrolled = robot.signer.public_key
    for _ in range(3):
        link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))
    rogue = RobotSigner.generate()
    announce = Event(EventKind.KEY_ROTATED, robot.mono_us, code="1", public_key=rogue.public_key)
    link.publish(TopicKind.EVENTS, robot.events(announce))  # seq 3
    wait_all_acked([link], 30)
    assert lab.db.receipts(robot.robot_id) == [0, 1, 2, 3]
    robot.signer = rogue
    link.client.publish(
        robot.topic(TopicKind.TELEMETRY), robot.telemetry(samples=5), qos=1
    )  # seq 4, signed with the rogue key
    eventually(
        lambda: lab.db.dead_letters(robot.robot_id) == ["bad_signature"],
        15,
        "the rogue key refused",
    )
    assert lab.db.receipts(robot.robot_id) == [0, 1, 2, 3]
    assert lab.db.rows(
        "SELECT first_seq, last_seq, public_key FROM robot_keys WHERE robot_id = %s",
        robot.robot_id,
    ) == [(0, None, enrolled)]
    assert lab.db.value("SELECT signing_public_key FROM robots WHERE id = %s", robot.robot_id) == (
        enrolled
    )
    cases = lab.db.rows(
        "SELECT category, reason, evidence FROM review_cases WHERE robot_id = %s", robot.robot_id
    )
    assert [(c[0], c[1]) for c in cases] == [("tamper", "bad_signature")]
    assert cases[0][2][0]["seq"] == 4
    assert lab.db.tamper_flagged(robot.robot_id) == 1.0

    # A rotation is now pending (robot 2): an announcement of another rotation id is no answer.
    other = robot_link()
    target = other.robot
    other.publish(TopicKind.TELEMETRY, target.telemetry(samples=5))
    wait_all_acked([other], 30)
    out = lab.cli.ok("robots", "rotate", str(target.robot_id), "--by", "erin@insurer")
    rotation_id = int(out.split()[1])
    wrong = Event(
        EventKind.KEY_ROTATED,
        target.mono_us,
        code=str(rotation_id + 1),
        public_key=rogue.public_key,
    )
    other.publish(TopicKind.EVENTS, target.events(wrong))  # seq 1
    wait_all_acked([other], 30)
    target.signer = rogue
    other.client.publish(target.topic(TopicKind.TELEMETRY), target.telemetry(samples=5), qos=1)
    eventually(lambda: len(lab.db.dead_letters(target.robot_id)) == 1, 15, "the rogue key refused")
    assert lab.db.receipts(target.robot_id) == [0, 1]
    assert lab.db.value("SELECT state FROM credential_rotations WHERE id = %s", rotation_id) == (
        "requested"
    )
    assert lab.db.rows(
        "SELECT first_seq, last_seq FROM robot_keys WHERE robot_id = %s", target.robot_id
    ) == [(0, None)]
    # Not accepted. (While a rotation is pending the ingest calls it key_pending_rotation and
    # opens no case, even though the message follows a held, non-answering announcement.)
    assert lab.db.dead_letters(target.robot_id) in (["key_pending_rotation"], ["bad_signature"])


def test_the_first_birth_after_a_rotation_is_not_refused(
    lab: Lab, robot_link: Callable[..., RobotLink]
) -> None:
    """A robot rotates as the protocol says: its announcement and the chained messages after it
    travel on the connection it has, whose birth was signed with the old key; its statuses
    change key, with its broker account, only once the announcement is acknowledged. A busy
    ingest closes a flush when it is full: one message a flush (flush_max_messages = 1) puts a
    boundary between every message. Nothing is refused, and the next connection's birth,
    signed with the new key, counts."""
    lab.start_ingest(flush_max_messages="1")
    link = robot_link()
    robot = link.robot
    old = robot.signer
    for _ in range(3):
        link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))
    wait_all_acked([link], 30)
    out = lab.cli.ok("robots", "rotate", str(robot.robot_id), "--by", "erin@insurer")
    rotation_id = int(out.split()[1])
    new = RobotSigner.generate()
    announce = Event(
        EventKind.KEY_ROTATED, robot.mono_us, code=str(rotation_id), public_key=new.public_key
    )
    announcement = robot.events(announce)  # seq 3, signed with the old key
    robot.signer = new
    link.publish(TopicKind.EVENTS, announcement)
    link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))  # seq 4, the new key
    wait_all_acked([link], 30)  # the announcement is acknowledged: statuses change key now
    birth = robot.status(
        RobotState.ONLINE,
        connection_seq=2,
        next_seq=robot.seq,
        head_digest=robot.last_digest,
    )
    link.client.publish(robot.topic(TopicKind.STATUS), birth, qos=1, retain=True)
    eventually(
        lambda: lab.db.presence(robot.robot_id) == (True, 2, RobotState.ONLINE),
        15,
        "the new connection's birth counts",
    )
    assert old.public_key != new.public_key
    assert lab.db.value("SELECT state FROM credential_rotations WHERE id = %s", rotation_id) == (
        "confirmed"
    )
    assert lab.db.receipts(robot.robot_id) == [0, 1, 2, 3, 4]
    assert lab.db.dead_letters(robot.robot_id) == []


# ============================================================================ 5. lifecycle bugs


def test_a_robot_away_longer_than_its_rotation_request_is_not_locked_out(lab: Lab) -> None:
    """A robot is switched off when staff ask it to rotate (a long shutdown), and comes back
    after the request's window is over and the rotations were settled. The request was not
    cancelled, its account not deleted: the robot rotates onto it, its announcement is honoured,
    and what it produces lands."""
    lab.start_ingest()
    agent = lab.new_agent()
    robot_id = agent.robot_id
    agent.start()
    eventually(lambda: len(lab.db.receipts(robot_id)) >= 2, 30, "telemetry lands", agent.log_text)
    assert agent.signal(signal.SIGTERM) == 0  # switched off
    out = lab.cli.ok("robots", "rotate", str(robot_id), "--by", "erin@insurer", "--ttl-h", "0.0005")
    rotation_id = int(out.split()[1])
    time.sleep(2.5)  # the request's window (1.8 s) is over, unanswered
    lab.cli.ok("robots", "settle-rotations")
    assert lab.db.value("SELECT state FROM credential_rotations WHERE id = %s", rotation_id) == (
        "requested"
    )
    came_back = agent.next_seq()
    agent.start()
    eventually(
        lambda: max(lab.db.receipts(robot_id)) >= came_back + 3,
        15,
        "what the robot produces after coming back lands",
        agent.log_text,
    )
    lab.cli.ok("robots", "settle-rotations")
    assert lab.db.value("SELECT state FROM credential_rotations WHERE id = %s", rotation_id) == (
        "completed"
    )
    assert lab.db.dead_letters(robot_id) == []
