"""Presence, and what a robot's births say of its chain, under attack: a real agent killed and
restarted, old births replayed, tails deleted or rewritten after a birth stated them."""

from __future__ import annotations

import hashlib
import signal
import time
from collections.abc import Callable

import pytest

from firmware_protocol import (
    RobotState,
    TopicKind,
)
from tests.adversarial.lab import (
    Lab,
    judged_marker,
    wait_judged,
)
from tests.adversarial.lab_base import (
    INGEST_FLUSH_S,
    KEEPALIVE_S,
    measured,
    wait_for,
)
from tests.support.ingest_process import RobotLink, eventually, wait_all_acked

pytestmark = pytest.mark.adversarial


# ============================================================================ 1. presence


def test_presence_tells_the_truth_when_the_agent_is_killed_and_restarted(
    lab: Lab,
) -> None:
    """kill -9 leaves the broker nothing but the will the agent registered when it connected,
    signed before its birth. Protocol 1.2: the will and the birth of one connection carry one
    connection_seq, and the ingest orders statuses by (connection_seq, state), so the will wins
    although its clock is older. (Ordered by the device's clock, the older will would lose to
    the birth and the dead robot would stay online: this test would time out.)"""
    lab.start_ingest()
    agent = lab.new_agent()
    watcher = lab.watch(agent.topic(TopicKind.STATUS))
    agent.start()
    eventually(lambda: lab.db.online(agent.robot_id), 30, "the robot shows online", agent.log_text)
    birth, _ = watcher.latest(RobotState.ONLINE)
    assert birth.connection_seq is not None
    eventually(lambda: len(lab.db.receipts(agent.robot_id)) >= 3, 30, "telemetry lands")

    killed_at = time.monotonic()
    agent.signal(signal.SIGKILL)
    to_offline = wait_for(lambda: not lab.db.online(agent.robot_id), 30, "offline after kill -9")
    measured("kill -9 to robots.online false", to_offline)
    # Allowed: 1.5 keepalives (the broker's own bound for noticing a silent client), plus the
    # ingest's flush interval and 0.5 s for a flush and the polling. With a SIGKILL the kernel
    # closes the socket, so the broker publishes the will at once: this is a generous bound.
    assert to_offline <= 1.5 * KEEPALIVE_S + INGEST_FLUSH_S + 0.5
    assert time.monotonic() - killed_at >= to_offline
    will, _ = watcher.latest(RobotState.OFFLINE, after=birth.connection_seq - 1)
    # The will the broker published is the one of the connection whose birth was applied.
    assert will.connection_seq == birth.connection_seq
    assert will.wall_us < birth.wall_us  # signed at connect time, before the birth
    assert lab.db.presence(agent.robot_id) == (False, birth.connection_seq, RobotState.OFFLINE)

    restarted_at = time.monotonic()
    agent.start()
    to_online = wait_for(lambda: lab.db.online(agent.robot_id), 30, "online after the restart")
    measured("restart to robots.online true (process start included)", to_online)
    assert time.monotonic() - restarted_at >= to_online
    reborn, _ = watcher.latest(RobotState.ONLINE, after=birth.connection_seq)
    assert reborn.connection_seq is not None
    assert lab.db.presence(agent.robot_id) == (True, reborn.connection_seq, RobotState.ONLINE)

    # A clean stop says goodbye (the OFFLINE of the same connection), and presence follows.
    stopped_at = time.monotonic()
    assert agent.signal(signal.SIGTERM) == 0
    wait_for(lambda: not lab.db.online(agent.robot_id), 15, "offline after SIGTERM")
    measured("SIGTERM (drain included) to robots.online false", time.monotonic() - stopped_at)
    assert lab.db.presence(agent.robot_id) == (False, reborn.connection_seq, RobotState.OFFLINE)


def test_an_old_birth_replayed_cannot_bring_a_dead_robot_back(
    lab: Lab,
) -> None:
    """The owner captures the robot's births (retained on its status topic: anyone subscribed
    gets them), lets the robot die, and publishes them again with the robot's own account: they
    are authentic (signed with the robot's key) but of older connections, so presence stays
    offline. The other way round, a will of an old connection delivered late cannot take a live
    robot down."""
    lab.start_ingest()
    agent = lab.new_agent()
    status_topic = agent.topic(TopicKind.STATUS)
    watcher = lab.watch(status_topic)
    births: list[bytes] = []
    connection = 0
    for _ in range(2):
        agent.start()
        eventually(lambda: lab.db.online(agent.robot_id), 30, "online", agent.log_text)
        birth, payload = watcher.latest(RobotState.ONLINE, after=connection)
        assert birth.connection_seq is not None
        connection = birth.connection_seq
        births.append(payload)
        agent.signal(signal.SIGKILL)
        eventually(lambda: not lab.db.online(agent.robot_id), 15, "offline after kill -9")
    last_will, will_payload = watcher.latest(RobotState.OFFLINE, after=connection - 1)
    assert last_will.connection_seq == connection
    assert lab.db.presence(agent.robot_id) == (False, last_will.connection_seq, RobotState.OFFLINE)

    owner = lab.owner(agent.identity)
    assert owner.connect(), "the robot's own account is what the attacker uses"
    markers = lab.db.dead_letters(agent.robot_id).count("bad_magic")
    for replayed in reversed(births):  # the newest first, then the older one
        owner.publish(status_topic, replayed, retain=True)
    judged_marker(agent.topic(TopicKind.TELEMETRY), owner.publish)
    wait_judged(lab.db, agent.robot_id, markers)
    assert lab.db.presence(agent.robot_id) == (False, last_will.connection_seq, RobotState.OFFLINE)
    # Authentic, merely old: refused silently, not evidence of anything.
    assert lab.db.dead_letters(agent.robot_id) == ["bad_magic"] * (markers + 1)
    assert (
        lab.db.value("SELECT count(*) FROM review_cases WHERE robot_id = %s", agent.robot_id) == 0
    )
    owner.close()

    # The robot comes back; its previous connection's will, delivered late (here by a cloud
    # stand-in: any account that may publish there), changes nothing.
    agent.start()
    eventually(lambda: lab.db.online(agent.robot_id), 30, "online again", agent.log_text)
    birth, _ = watcher.latest(RobotState.ONLINE, after=connection)
    markers = lab.db.dead_letters(agent.robot_id).count("bad_magic")
    watcher.publish(status_topic, will_payload)
    judged_marker(agent.topic(TopicKind.TELEMETRY), watcher.publish)
    wait_judged(lab.db, agent.robot_id, markers)
    assert lab.db.presence(agent.robot_id) == (True, birth.connection_seq, RobotState.ONLINE)


# ============================================================================ 2. the chain's head


def test_a_tail_deleted_before_it_was_sent_is_owed_at_once_and_closes_when_it_arrives(
    lab: Lab, robot_link: Callable[..., RobotLink]
) -> None:
    """The robot sends seqs 0..4, deletes 5..9 before they are sent, and reconnects. Its birth
    (protocol 1.2) says next_seq = 10 with the digest of message 9: the cloud records 5..9 as
    owed at once, not when (if ever) seq 10 arrives. A gap that closes when the messages come,
    or when a drop notice admits them."""
    lab.start_ingest()
    for admit in (False, True):
        link = robot_link()
        robot = link.robot
        for _ in range(5):
            link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))
        wait_all_acked([link], 30)
        assert lab.db.open_gaps(robot.robot_id) == []
        withheld = robot.skip(5)  # seqs 5..9, signed and chained, never sent
        birth = robot.status(
            RobotState.ONLINE,
            connection_seq=1,
            next_seq=robot.seq,
            head_digest=robot.last_digest,
        )
        link.client.publish(link.robot.topic(TopicKind.STATUS), birth, qos=1, retain=True)
        owed = wait_for(lambda: lab.db.open_gaps(robot.robot_id) == [(5, 9)], 15, "5..9 owed")  # noqa: B023
        measured("birth claiming next_seq 10 to the gap 5..9 being open", owed)
        assert owed <= 2.0
        assert lab.db.online(robot.robot_id)
        if admit:
            notice = robot.drop_notice(withheld, first_seq=5, dropped_samples=10)
            link.publish(TopicKind.EVENTS, notice)
            resolution = "dropped"
        else:
            for payload in withheld:
                link.publish(TopicKind.TELEMETRY, payload)
            resolution = "filled"
        wait_all_acked([link], 30)
        assert lab.db.open_gaps(robot.robot_id) == []
        closed = lab.db.rows(
            "SELECT first_seq, last_seq, resolution FROM sequence_gaps WHERE robot_id = %s"
            " ORDER BY first_seq",
            robot.robot_id,
        )
        if admit:
            assert closed == [(5, 9, "dropped")]
        else:  # each arrival closes its own piece
            assert {(r[0], r[1]) for r in closed} == {(s, s) for s in range(5, 10)}
            assert {r[2] for r in closed} == {resolution}
        assert lab.db.dead_letters(robot.robot_id) == []


def test_a_birth_going_back_on_the_chain_is_reviewed(
    lab: Lab, robot_link: Callable[..., RobotLink]
) -> None:
    """The cloud holds seqs 0..9; the robot reconnects with a birth saying next_seq = 5 (its
    chain state restored from an old backup, say). Consistent with what is held (the digest of
    seq 4 matches), so not tampering, but a chain that went back: a conduct case."""
    lab.start_ingest()
    link = robot_link()
    robot = link.robot
    heads = []
    for _ in range(10):
        link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))
        heads.append(robot.last_digest)
    wait_all_acked([link], 30)
    birth = robot.status(RobotState.ONLINE, connection_seq=2, next_seq=5, head_digest=heads[4])
    link.client.publish(robot.topic(TopicKind.STATUS), birth, qos=1, retain=True)
    eventually(lambda: lab.db.online(robot.robot_id), 15, "the birth is judged")
    cases = lab.db.rows(
        "SELECT category, reason, evidence FROM review_cases WHERE robot_id = %s", robot.robot_id
    )
    assert cases == [
        ("conduct", "chain_rollback", [{"kind": "status", "next_seq": 5, "held_head": 9}])
    ]
    assert lab.db.dead_letters(robot.robot_id) == []
    assert lab.db.tamper_flagged(robot.robot_id) == 0.0  # conduct is reviewed, not priced


def test_a_tail_rewritten_after_a_birth_committed_to_it_is_tampering(
    lab: Lab, robot_link: Callable[..., RobotLink]
) -> None:
    """The robot's birth commits to seqs 5..9 (next_seq = 10 and the digest of 9) before it
    sends them. The owner then rewrites 5..9 (re-signed with the robot's key, linked to the 4
    the cloud holds), reconnects with a birth stating the new head, and sends them: two
    histories of seq 9 were signed, which the cloud saw both of."""
    lab.start_ingest()
    link = robot_link()
    robot = link.robot
    for _ in range(5):
        link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))
    wait_all_acked([link], 30)
    after_four = robot.last_digest
    robot.skip(5)  # the history the first birth commits to
    first = robot.status(
        RobotState.ONLINE, connection_seq=1, next_seq=10, head_digest=robot.last_digest
    )
    link.client.publish(robot.topic(TopicKind.STATUS), first, qos=1, retain=True)
    eventually(lambda: lab.db.open_gaps(robot.robot_id) == [(5, 9)], 15, "5..9 owed")
    robot.seq, robot.last_digest = 5, after_four
    rewritten = robot.skip(5)
    second = robot.status(
        RobotState.ONLINE, connection_seq=2, next_seq=10, head_digest=robot.last_digest
    )
    link.client.publish(robot.topic(TopicKind.STATUS), second, qos=1, retain=True)
    for payload in rewritten:
        link.publish(TopicKind.TELEMETRY, payload)
    wait_all_acked([link], 30)
    cases = lab.db.rows(
        "SELECT category FROM review_cases WHERE robot_id = %s AND status = 'open'",
        robot.robot_id,
    )
    assert cases == [("tamper",)]


def test_a_birth_contradicting_the_held_head_is_tampering(
    lab: Lab, robot_link: Callable[..., RobotLink]
) -> None:
    """The robot rewrote its history after seq 4 reached the cloud: its birth states a head
    digest for seq 4 other than the one the cloud holds. Refused (tampered_status_head), and
    the robot's tamper case opens with the dead letter as evidence; presence is not taken from
    a refused status."""
    lab.start_ingest()
    link = robot_link()
    robot = link.robot
    for _ in range(5):
        link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))
    wait_all_acked([link], 30)
    forged_head = hashlib.sha256(b"another history").digest()
    birth = robot.status(
        RobotState.ONLINE, connection_seq=1, next_seq=robot.seq, head_digest=forged_head
    )
    link.client.publish(robot.topic(TopicKind.STATUS), birth, qos=1, retain=True)
    flagged = wait_for(
        lambda: lab.db.dead_letters(robot.robot_id) == ["tampered_status_head"], 15, "refused"
    )
    measured("contradicting birth to its dead letter and tamper case", flagged)
    cases = lab.db.rows(
        "SELECT category, reason, status, evidence FROM review_cases WHERE robot_id = %s",
        robot.robot_id,
    )
    assert len(cases) == 1
    category, reason, status, evidence = cases[0]
    assert (category, reason, status) == ("tamper", "tampered_status_head", "open")
    dead_letter_id = lab.db.value("SELECT id FROM dead_letters WHERE robot_id = %s", robot.robot_id)
    assert evidence[0]["dead_letter_id"] == dead_letter_id
    assert evidence[0]["seq"] == 4
    assert evidence[0]["claimed_digest"] == forged_head.hex()
    assert evidence[0]["held_digest"] == robot.last_digest.hex()
    assert lab.db.presence(robot.robot_id) == (False, None, None)
    assert lab.db.open_gaps(robot.robot_id) == []
    assert lab.db.tamper_flagged(robot.robot_id) == 1.0


def test_a_birth_judged_beside_later_messages_is_no_rollback(
    lab: Lab, robot_link: Callable[..., RobotLink]
) -> None:
    """A robot reconnects: its birth says next_seq = 5 (it holds 0..4), then it sends seq 5, as
    every robot does when it produces a message right after connecting, or when the ingest was
    away and the broker queued both. Judged in one flush (here a flush interval of 1 s makes
    sure of it), the ingest judges the chain before the statuses and takes the birth's
    next_seq - 1 = 4 against a head of 5: a "chain rollback" conduct case, though the robot
    never went back. Protocol section 13: a rollback is a newer connection's birth claiming
    less than the cloud held, not less than what the robot sent after that birth."""
    lab.start_ingest(flush_interval_s="1.0")
    link = robot_link()
    robot = link.robot
    for _ in range(5):
        link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))
    wait_all_acked([link], 30)
    birth = robot.status(
        RobotState.ONLINE, connection_seq=2, next_seq=5, head_digest=robot.last_digest
    )
    link.client.publish(robot.topic(TopicKind.STATUS), birth, qos=1, retain=True)
    link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))  # seq 5, after the birth
    wait_all_acked([link], 30)
    eventually(lambda: lab.db.online(robot.robot_id), 15, "the birth is applied")
    assert lab.db.receipts(robot.robot_id) == [0, 1, 2, 3, 4, 5]
    assert (
        lab.db.rows(
            "SELECT category, reason, evidence FROM review_cases WHERE robot_id = %s",
            robot.robot_id,
        )
        == []
    )
