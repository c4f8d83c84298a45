"""Review cases opened by the ingest and decided by staff with the real commands."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from firmware_protocol import RobotSigner, TopicKind
from tests.adversarial.lab import Lab
from tests.adversarial.lab_base import measured, wait_for
from tests.support.ingest_process import RobotLink, eventually, wait_all_acked

pytestmark = pytest.mark.adversarial


def test_a_bad_signature_opens_a_review_case_that_staff_can_clear(
    lab: Lab, robot_link: Callable[..., RobotLink]
) -> None:
    """A batch signed by another key on the robot's topic: refused, and the robot's tamper case
    opens with the dead letter as evidence; pricing reads the robot as tamper-flagged. Staff
    clear the case with who and why: pricing reads it clean again; a case is decided once.
    Fresh evidence opens a new case: the flag is a decision, not a permanent mark."""
    lab.start_ingest()
    link = robot_link()
    robot = link.robot
    for _ in range(2):
        link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))
    wait_all_acked([link], 30)
    assert lab.db.tamper_flagged(robot.robot_id) == 0.0

    def forge() -> None:
        genuine, seq, digest = robot.signer, robot.seq, robot.last_digest
        robot.signer = RobotSigner.generate()
        forged = robot.telemetry(samples=5)
        robot.signer, robot.seq, robot.last_digest = genuine, seq, digest
        link.client.publish(robot.topic(TopicKind.TELEMETRY), forged, qos=1)

    forge()
    opened = wait_for(
        lambda: (
            lab.db.value(
                "SELECT count(*) FROM review_cases WHERE robot_id = %s AND status = 'open'",
                robot.robot_id,
            )
            == 1
        ),
        15,
        "a tamper case opens",
    )
    measured("forged batch to its review case", opened)
    dead_letter_id = lab.db.value(
        "SELECT id FROM dead_letters WHERE robot_id = %s AND reason = 'bad_signature'",
        robot.robot_id,
    )
    case_id, category, reason, evidence = lab.db.rows(
        "SELECT id, category, reason, evidence FROM review_cases WHERE robot_id = %s",
        robot.robot_id,
    )[0]
    assert (category, reason) == ("tamper", "bad_signature")
    assert evidence[0]["kind"] == "dead_letter"
    assert evidence[0]["dead_letter_id"] == dead_letter_id
    assert evidence[0]["reason"] == "bad_signature"
    assert evidence[0]["seq"] == 2
    assert lab.db.tamper_flagged(robot.robot_id) == 1.0
    listed = [
        json.loads(line)
        for line in lab.cli.ok("reviews", "list", "--robot", str(robot.robot_id)).splitlines()
    ]
    assert [(c["id"], c["status"]) for c in listed] == [(case_id, "open")]

    assert (
        lab.cli.run(
            "reviews", "clear", str(case_id), "--by", "frank@insurer", "--reason", " "
        ).returncode
        == 1
    )
    cleared = lab.cli.ok(
        "reviews", "clear", str(case_id), "--by", "frank@insurer", "--reason", "bench test key"
    )
    assert f"case {case_id} cleared" in cleared
    assert lab.db.rows(
        "SELECT status, resolved_by, resolution_note, resolved_at IS NOT NULL FROM review_cases"
        " WHERE id = %s",
        case_id,
    ) == [("cleared", "frank@insurer", "bench test key", True)]
    assert lab.db.rows(
        "SELECT actor, action, note FROM review_case_actions WHERE case_id = %s ORDER BY id",
        case_id,
    ) == [("ingest", "opened", "bad_signature"), ("frank@insurer", "cleared", "bench test key")]
    assert lab.db.tamper_flagged(robot.robot_id) == 0.0
    for decision in ("clear", "confirm"):
        again = lab.cli.run(
            "reviews", decision, str(case_id), "--by", "grace@insurer", "--reason", "again"
        )
        assert again.returncode == 1
        assert f"case {case_id} is already cleared" in again.stderr
    assert lab.db.value("SELECT count(*) FROM review_case_actions WHERE case_id = %s", case_id) == 2

    # The robot's genuine messages were never held up; a new forgery opens a new case.
    link.publish(TopicKind.TELEMETRY, robot.telemetry(samples=5))
    wait_all_acked([link], 30)
    forge()
    eventually(lambda: lab.db.tamper_flagged(robot.robot_id) == 1.0, 15, "flagged again")
    assert lab.db.rows(
        "SELECT status FROM review_cases WHERE robot_id = %s ORDER BY id", robot.robot_id
    ) == [("cleared",), ("open",)]
