"""A claim's telemetry evidence, frozen at first notice from the robot's record as the ingest
wrote it: a robot that collided shows the collision and no flag; one that went silent over
its time of loss, with a sequence gap, is flagged silent, offline and gapped; one with no
event near the loss is flagged for it; open tamper cases and late reports are flagged; the
digest detects a later change to the stored record, which the database refuses to update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cloud_api.access.roles import Role
from database.models import Metric
from tests.integration.api import evidence_factories as record
from tests.integration.api.claim_factories import InsuredFleet, insured_fleet
from tests.support.api import ApiHarness, principal

HOLDER = principal(Role.POLICYHOLDER, "alpha")
ADJUSTER = principal(Role.CLAIMS_ADJUSTER)
AUDITOR = principal(Role.AUDITOR)
LOSS = (datetime.now(UTC) - timedelta(days=3)).replace(second=30, microsecond=0)


@pytest.fixture
def insured(api: ApiHarness) -> InsuredFleet:
    return insured_fleet(api, insured=3)


@pytest.fixture
def kinds(api: ApiHarness) -> list[Metric]:
    return record.metrics(api.session)


def claim_on(api: ApiHarness, robot_id: object, loss_at: datetime = LOSS) -> Any:
    body = {
        "robot_id": str(robot_id),
        "coverage": "breakdown",
        "loss_at": loss_at.isoformat(),
        "description": "The arm stopped and its gearbox seized.",
    }
    response = api.client(HOLDER).post("/v1/claims", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def evidence(api: ApiHarness, claim: Any) -> Any:
    response = api.client(ADJUSTER).get(f"/v1/claims/{claim['id']}/evidence")
    assert response.status_code == 200, response.text
    return response.json()


def codes(found: Any) -> list[str]:
    return [f["code"] for f in found["flags"]]


def test_a_robot_that_collided_shows_the_collision_and_no_flag(
    api: ApiHarness, insured: InsuredFleet, kinds: list[Metric]
) -> None:
    robot = insured.robots[0]
    after = record.stream(
        api.session, robot, kinds, (LOSS - timedelta(hours=3), LOSS + timedelta(hours=2)), 1
    )
    record.event(api.session, robot, LOSS - timedelta(minutes=2), "collision", 178)
    claim = claim_on(api, robot.id)
    found = evidence(api, claim)
    assert found["flags"] == []
    assert found["intact"] is True
    assert len(found["digest"]) == 64
    assert datetime.fromisoformat(found["window_start"]) == LOSS - timedelta(days=1)
    snapshot = found["snapshot"]
    assert [(e["kind"], e["seq"]) for e in snapshot["events"]] == [("collision", 178)]
    assert snapshot["event_counts"] == {"collision": 1}
    # What the robot sent for the window: three hours before the loss to one after.
    assert after == 301  # five hours of minute batches were sent in all
    assert snapshot["seq_range"] == [1, 240]
    batches = snapshot["batches"]
    assert batches["batches"] == 240
    assert batches["samples"] == 240 * 6 * 2
    assert batches["corrected"] == 0
    assert snapshot["chain"] == {"every_batch_verified": True, "integrity_refusals": {}}
    assert snapshot["gaps"] == []
    close_up = [m for m in snapshot["metrics_close_up"] if m["key"] == kinds[0].key]
    assert len(close_up) == 31  # a minute each, from 15 min before the loss to 15 after
    assert sum(m["samples"] for m in close_up) == 30 * 6  # a sample every 10 s
    hourly = {m["key"] for m in snapshot["metrics_hourly"]}
    assert hourly == {kinds[0].key, kinds[1].key}
    # The window began a day before the loss; the robot's record three hours before it.
    assert len(snapshot["silences"]) == 1
    assert datetime.fromisoformat(snapshot["silences"][0][1]) == LOSS - timedelta(hours=3)
    shared = api.client(HOLDER).get(f"/v1/claims/{claim['id']}/events").json()
    assert [e["kind"] for e in shared] == ["reported"]
    staff = api.client(ADJUSTER).get(f"/v1/claims/{claim['id']}/events").json()
    assert [(e["kind"], e["internal"]) for e in staff] == [
        ("reported", False),
        ("evidence", True),
    ]
    assert staff[1]["detail"] == {"flags": [], "digest": found["digest"]}


def test_a_robot_silent_over_its_loss_is_flagged_silent_offline_and_gapped(
    api: ApiHarness, insured: InsuredFleet, kinds: list[Metric]
) -> None:
    robot = insured.robots[1]
    resumed = record.stream(
        api.session, robot, kinds, (LOSS - timedelta(hours=3), LOSS - timedelta(minutes=50)), 1
    )
    record.stream(
        api.session, robot, kinds, (LOSS + timedelta(minutes=30), LOSS + timedelta(hours=2)), 200
    )
    record.gap(api.session, robot, resumed, 199)
    found = evidence(api, claim_on(api, robot.id))
    assert codes(found) == ["no_matching_event", "silent_at_loss", "offline_at_loss", "gap_at_loss"]
    reasons = {f["code"]: f["reason"] for f in found["flags"]}
    assert reasons["gap_at_loss"].startswith(f"seq {resumed}-199 missing (open) between ")
    assert reasons["silent_at_loss"] == "no sample within 10 min of the loss"
    assert found["snapshot"]["gaps"][0]["first_seq"] == resumed


def test_a_loss_with_no_event_near_it_is_flagged(
    api: ApiHarness, insured: InsuredFleet, kinds: list[Metric]
) -> None:
    robot = insured.robots[2]
    record.stream(
        api.session, robot, kinds, (LOSS - timedelta(hours=2), LOSS + timedelta(hours=1)), 1
    )
    record.event(api.session, robot, LOSS - timedelta(minutes=40), "protective_stop", 80)
    found = evidence(api, claim_on(api, robot.id))
    assert codes(found) == ["no_matching_event"]
    assert found["flags"][0]["reason"] == "no collision, stop or fault within 15 min of the loss"


def test_an_open_tamper_case_and_a_late_report_are_flagged(
    api: ApiHarness, insured: InsuredFleet, kinds: list[Metric]
) -> None:
    robot = insured.robots[0]
    long_ago = LOSS - timedelta(days=13, hours=1)  # 16 days before the report, in the term
    record.stream(
        api.session, robot, kinds, (long_ago - timedelta(hours=1), long_ago + timedelta(hours=1)), 1
    )
    record.event(api.session, robot, long_ago, "emergency_stop", 30)
    case = record.tamper_case(api.session, robot)
    found = evidence(api, claim_on(api, robot.id, loss_at=long_ago))
    assert codes(found) == ["open_tamper_case", "late_report"]
    assert found["flags"][0]["reason"] == f"tamper case {case.id} open: bad_signature"
    assert found["flags"][1]["reason"] == "reported 16 days after the loss"


def test_a_robot_that_sent_nothing_is_silent_and_offline_for_the_whole_window(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    found = evidence(api, claim_on(api, insured.robots[1].id))
    assert codes(found) == ["no_matching_event", "silent_at_loss", "offline_at_loss"]
    assert found["snapshot"]["batches"] is None


def test_the_digest_detects_a_later_change_that_the_database_would_refuse(
    api: ApiHarness, insured: InsuredFleet, kinds: list[Metric]
) -> None:
    robot = insured.robots[0]
    record.stream(
        api.session, robot, kinds, (LOSS - timedelta(hours=1), LOSS + timedelta(hours=1)), 1
    )
    record.event(api.session, robot, LOSS - timedelta(minutes=1), "collision", 60)
    claim = claim_on(api, robot.id)
    assert evidence(api, claim)["intact"] is True
    with pytest.raises(DBAPIError) as refused, api.session.begin_nested():
        api.session.execute(
            text("UPDATE claim_evidence SET flags = '[]' WHERE claim_id = :c"), {"c": claim["id"]}
        )
    assert isinstance(refused.value.orig, psycopg.errors.RestrictViolation)
    # Someone with the table owner's rights goes around the append-only trigger and moves
    # the collision an hour away from the loss: the record no longer matches its digest.
    with api.session.begin_nested():
        api.session.execute(
            text("ALTER TABLE claim_evidence DISABLE TRIGGER claim_evidence_append_only")
        )
        api.session.execute(
            text(
                "UPDATE claim_evidence SET snapshot = jsonb_set(snapshot, '{events,0,time}',"
                " to_jsonb(CAST(:moved AS text))) WHERE claim_id = :c"
            ),
            {"c": claim["id"], "moved": (LOSS - timedelta(hours=1)).isoformat()},
        )
        api.session.execute(
            text("ALTER TABLE claim_evidence ENABLE TRIGGER claim_evidence_append_only")
        )
    api.session.expire_all()
    tampered = evidence(api, claim)
    assert tampered["intact"] is False
    assert tampered["snapshot"]["events"][0]["time"] == (LOSS - timedelta(hours=1)).isoformat()


def test_evidence_is_for_adjusters_and_auditors_not_the_policyholder(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    claim = claim_on(api, insured.robots[0].id)
    assert api.client(HOLDER).get(f"/v1/claims/{claim['id']}/evidence").status_code == 403
    assert api.client(AUDITOR).get(f"/v1/claims/{claim['id']}/evidence").status_code == 200


def test_the_printable_report_shows_the_record_with_charts_and_needs_no_network(
    api: ApiHarness, insured: InsuredFleet, kinds: list[Metric]
) -> None:
    robot = insured.robots[1]
    resumed = record.stream(
        api.session, robot, kinds, (LOSS - timedelta(hours=3), LOSS - timedelta(minutes=50)), 1
    )
    record.gap(api.session, robot, resumed, 199)
    claim = claim_on(api, robot.id)
    response = api.client(ADJUSTER).get(f"/v1/claims/{claim['id']}/evidence/report")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert f"Telemetry evidence, claim {claim['number']}" in page
    assert "<b>silent_at_loss</b>: no sample within 10 min of the loss" in page
    assert f"{resumed}-199 (open)" in page
    assert "yes: it matches its digest" in page
    assert page.count("<svg ") == 2  # two metrics, hourly (no minute near the loss: silent)
    assert page.count("<polyline ") == 2
    assert "<script" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert "src=" not in page
    assert api.client(HOLDER).get(f"/v1/claims/{claim['id']}/evidence/report").status_code == 403


def test_the_digest_holds_for_any_offset_and_for_numbers_jsonb_rewrites(
    api: ApiHarness, insured: InsuredFleet, kinds: list[Metric]
) -> None:
    robot = insured.robots[0]
    record.stream(api.session, robot, kinds, (LOSS - timedelta(hours=2), LOSS), 1)
    api.session.execute(  # sums JSONB gives back as integers, and a negative zero
        text(
            "UPDATE telemetry_hourly SET total = 1e17, total_sq = 1e300, minimum = -0.0"
            " WHERE robot_id = :r"
        ),
        {"r": robot.id},
    )
    record.event(api.session, robot, LOSS, "collision", 100)
    away = LOSS.astimezone(timezone(timedelta(hours=2)))
    claim = claim_on(api, robot.id, loss_at=away)
    api.session.expire_all()  # read the row back from the database
    found = evidence(api, claim)
    assert found["intact"] is True
    totals = {h["total"] for h in found["snapshot"]["metrics_hourly"]}
    assert totals == {1e17}
