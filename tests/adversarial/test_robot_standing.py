"""Suspension, reinstatement and revocation of a real agent by the real commands: cut off at once,
nothing lost, audited; revoked for good."""

from __future__ import annotations

import signal
import time

import pytest

from firmware_protocol import (
    MessageKind,
    RobotState,
    TopicKind,
)
from tests.adversarial.agents import (
    ConnectionWatch,
    landed_exactly_once,
)
from tests.adversarial.lab import (
    Lab,
    account_accepted,
)
from tests.adversarial.lab_base import (
    INGEST_FLUSH_S,
    measured,
    wait_for,
)
from tests.support.ingest_process import eventually

pytestmark = pytest.mark.adversarial


def test_suspension_cuts_the_robot_off_at_once_and_reinstatement_loses_nothing(
    lab: Lab,
) -> None:
    """Staff suspend a robot that is connected and sending: its broker connection ends at once,
    its reconnections are refused, what it produces meanwhile stays in its outbox and nothing
    it sends is written as data (a message the broker still delivers is dead-lettered, not
    acknowledged). Reinstated, it reconnects and everything it produced lands exactly once.
    The robot's audit holds both moves with who and why."""
    lab.start_ingest()
    agent = lab.new_agent()
    robot_id = agent.robot_id
    watcher = lab.watch(agent.topic(TopicKind.STATUS))
    agent.start()
    eventually(lambda: lab.db.online(robot_id), 30, "online", agent.log_text)
    eventually(lambda: len(lab.db.receipts(robot_id)) >= 3, 30, "telemetry lands")
    connections = agent.log_count("online at")

    with ConnectionWatch(agent) as watch:
        started = time.monotonic()
        suspended = lab.cli.run(
            "robots", "suspend", str(robot_id), "--by", "alice@insurer", "--reason", "unpaid"
        )
        returned = time.monotonic()
    assert suspended.returncode == 0, suspended.stderr
    assert watch.gone_at is not None, "the agent's connection was not ended"
    measured("suspend: command start to the agent's connection gone", watch.gone_at - started)
    measured("suspend: command exit to the agent's connection gone", watch.gone_at - returned)
    # The broker follows the database after the commit, before the command returns; 1 s of
    # slack for the kernel's socket table and the polling.
    assert watch.gone_at - returned <= 1.0
    assert lab.db.value("SELECT status FROM robots WHERE id = %s", robot_id) == "suspended"

    time.sleep(1.0)  # what the ingest had in hand when the robot was cut off is judged
    held = lab.db.receipts(robot_id)
    produced = agent.next_seq()
    time.sleep(4.0)  # suspended: the agent samples on and tries to reconnect
    assert agent.log_count("online at") == connections, "a suspended robot got back online"
    refused = agent.log_count("broker refused the connection")
    assert refused >= 2, agent.log_text()
    measured(f"time suspended ({refused} reconnections refused, none accepted)", 4.0)
    assert not account_accepted(lab.broker, agent.identity)
    assert agent.next_seq() >= produced + 3, "the robot stopped producing while suspended"
    assert lab.db.receipts(robot_id) == held

    # A message of the robot's still queued at the broker (here delivered by a cloud stand-in):
    # refused without an ack, so the robot keeps it.
    seq, kind, payload = agent.pending()[-1]
    assert seq > max(held)
    topic_kind = TopicKind.TELEMETRY if kind == MessageKind.TELEMETRY else TopicKind.EVENTS
    refused_before = lab.db.dead_letters(robot_id).count("robot_suspended")
    watcher.publish(agent.topic(topic_kind), payload)
    eventually(
        lambda: lab.db.dead_letters(robot_id).count("robot_suspended") > refused_before,
        15,
        "a suspended robot's message",
    )
    assert lab.db.receipts(robot_id) == held
    assert seq in {s for s, _, _ in agent.pending()}

    reinstated_at = time.monotonic()
    lab.cli.ok("robots", "reinstate", str(robot_id), "--by", "bob@insurer", "--reason", "paid")
    wait_for(lambda: agent.log_count("online at") > connections, 15, "reconnected")
    measured("reinstate: command start to the agent online again", time.monotonic() - reinstated_at)
    backlog = agent.next_seq()
    wait_for(
        lambda: set(range(backlog)) <= set(lab.db.receipts(robot_id)), 60, "the backlog landed"
    )
    measured(
        f"reinstate: command start to the backlog ({backlog} messages) landed",
        time.monotonic() - reinstated_at,
    )

    assert agent.signal(signal.SIGTERM) == 0
    final = agent.next_seq()
    assert agent.pending() == [], "the agent stopped with messages unacknowledged"
    assert agent.dropped_messages() == 0
    eventually(lambda: lab.db.receipts(robot_id) == list(range(final)), 15, "every seq, once")
    assert landed_exactly_once(lab.db, robot_id) == []
    assert lab.db.value(
        "SELECT sum(sample_count) FROM batch_receipts WHERE robot_id = %s", robot_id
    ) == lab.db.value("SELECT count(*) FROM telemetry WHERE robot_id = %s", robot_id)
    assert lab.db.open_gaps(robot_id) == []
    assert set(lab.db.dead_letters(robot_id)) == {"robot_suspended"}
    audit = lab.db.rows(
        "SELECT actor, action, reason, detail FROM robot_actions WHERE robot_id = %s ORDER BY id",
        robot_id,
    )
    assert audit == [
        ("alice@insurer", "suspended", "unpaid", {"from": "active"}),
        ("bob@insurer", "reinstated", "paid", {"from": "suspended"}),
    ]
    assert lab.db.value("SELECT status FROM robots WHERE id = %s", robot_id) == "active"


def test_a_robot_cut_off_by_staff_does_not_show_online(
    lab: Lab,
) -> None:
    """Presence tells the truth for a robot staff cut off too. Suspending ends its connection
    at once and refuses the next ones; the broker kicks a disabled account without publishing
    its will (Mosquitto's dynamic security), and a will would be refused anyway (what a
    suspended robot sends is dead-lettered), so nothing but the suspension itself can say the
    robot is gone. Revoked, it is gone for good."""
    lab.start_ingest()
    agent = lab.new_agent()
    robot_id = agent.robot_id
    watcher = lab.watch(agent.topic(TopicKind.STATUS))
    agent.start()
    eventually(lambda: lab.db.online(robot_id), 30, "online", agent.log_text)
    lab.cli.ok("robots", "suspend", str(robot_id), "--by", "alice@insurer", "--reason", "unpaid")
    eventually(lambda: not agent.connected(), 5, "the agent is cut off")
    time.sleep(2 * INGEST_FLUSH_S + 0.5)
    assert watcher.statuses(RobotState.OFFLINE) == []  # no will: the broker kicked it
    assert agent.log_count("broker refused the connection") >= 1
    assert not lab.db.online(robot_id), "a suspended robot, cut off, shows online"
    lab.cli.ok("robots", "revoke", str(robot_id), "--by", "carol@insurer", "--reason", "fraud")
    assert not lab.db.online(robot_id), "a revoked robot shows online"


def test_revocation_is_for_good(
    lab: Lab,
) -> None:
    """Revoked, the robot is cut off as a suspended one is, and no command brings it back:
    reinstating is refused with a clear message and a non-zero exit code."""
    lab.start_ingest()
    agent = lab.new_agent()
    robot_id = agent.robot_id
    agent.start()
    eventually(lambda: len(lab.db.receipts(robot_id)) >= 2, 30, "telemetry lands", agent.log_text)
    with ConnectionWatch(agent) as watch:
        lab.cli.ok("robots", "revoke", str(robot_id), "--by", "carol@insurer", "--reason", "fraud")
        returned = time.monotonic()
    assert watch.gone_at is not None
    assert watch.gone_at - returned <= 1.0
    for move in ("reinstate", "suspend", "rotate"):
        extra = ("--reason", "try") if move != "rotate" else ()
        refused = lab.cli.run("robots", move, str(robot_id), "--by", "dave@insurer", *extra)
        assert refused.returncode == 1, (move, refused.stdout, refused.stderr)
        assert f"a revoked robot cannot be {move}d here; allowed: none" in refused.stderr
    assert lab.db.value("SELECT status FROM robots WHERE id = %s", robot_id) == "revoked"
    assert not account_accepted(lab.broker, agent.identity)
    assert (
        lab.db.value(
            "SELECT count(*) FROM robot_keys WHERE robot_id = %s AND retired_at IS NULL", robot_id
        )
        == 0
    )
    assert lab.db.rows(
        "SELECT actor, action, reason FROM robot_actions WHERE robot_id = %s", robot_id
    ) == [("carol@insurer", "revoked", "fraud")]
    time.sleep(2.0)
    assert agent.log_count("online at") == 1
