"""GET /v1/robots/{id} with what an underwriter weighs (clock skew, open sequence gaps, open
review cases, a rotation under way), and the list's search by serial number prefix and its
review filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from cloud_api.access.roles import Principal, Role
from database.models import (
    CaseCategory,
    CaseStatus,
    CredentialRotation,
    ReviewCase,
    Robot,
    RobotClock,
    SequenceGap,
)
from tests.integration.api.robot_factories import add_robot
from tests.support.api import ApiHarness, principal

NOW = datetime.now(UTC)
UNDERWRITER = principal(Role.UNDERWRITER)
OWNER = principal(Role.POLICYHOLDER, "alpha")


def _case(robot: Robot, category: CaseCategory, *, closed: bool = False) -> ReviewCase:
    return ReviewCase(
        robot_id=robot.id,
        category=category.value,
        reason="bad_signature" if category == CaseCategory.TAMPER else "refused_flood",
        status=CaseStatus.CLEARED.value if closed else CaseStatus.OPEN.value,
        resolved_at=NOW if closed else None,
        resolved_by="staff" if closed else None,
        evidence_count=3,
    )


def test_the_detail_of_a_watched_robot(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    current_boot, old_boot = uuid.uuid4(), uuid.uuid4()
    robot.boot_id = current_boot
    old_gap = NOW - timedelta(days=3)
    api.session.add_all(
        [
            RobotClock(robot_id=robot.id, boot_id=old_boot, max_offset_us=9_000_000),
            RobotClock(robot_id=robot.id, boot_id=current_boot, max_offset_us=-1_250_000),
            SequenceGap(robot_id=robot.id, first_seq=40, last_seq=44, detected_at=NOW),
            SequenceGap(robot_id=robot.id, first_seq=70, last_seq=70, detected_at=old_gap),
            SequenceGap(
                robot_id=robot.id, first_seq=5, last_seq=9, closed_at=NOW, resolution="filled"
            ),
            _case(robot, CaseCategory.TAMPER),
            _case(robot, CaseCategory.CONDUCT, closed=True),
            CredentialRotation(
                robot_id=robot.id,
                requested_by="someone",
                expires_at=NOW + timedelta(hours=72),
                old_mqtt_username=robot.mqtt_username,
                new_mqtt_username=f"robot-next-{robot.id.hex}",
                config_version=1,
            ),
        ]
    )
    api.session.flush()
    detail = api.client(UNDERWRITER).get(f"/v1/robots/{robot.id}").json()
    assert detail["clock"]["boot_id"] == str(current_boot)  # the current boot's, not the worst
    assert detail["clock"]["skew_s"] == -1.25
    assert detail["sequence_gaps"]["open"] == 2
    oldest = detail["sequence_gaps"]["oldest_open"]
    assert (oldest["first_seq"], oldest["last_seq"]) == (70, 70)
    assert [(c["category"], c["evidence_count"]) for c in detail["open_review_cases"]] == [
        ("tamper", 3)
    ]
    rotation = detail["pending_rotation"]
    assert (rotation["state"], rotation["new_mqtt_username"]) == (
        "requested",
        f"robot-next-{robot.id.hex}",
    )
    # The owner sees its robot's clock, gaps and rotation, not the insurer's suspicions.
    own = api.client(OWNER).get(f"/v1/robots/{robot.id}").json()
    assert own["open_review_cases"] is None
    assert own["sequence_gaps"] == detail["sequence_gaps"]
    assert "bad_signature" not in str(own)


def test_a_quiet_robot_has_nothing_to_show_and_its_latest_clock(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    boot = uuid.uuid4()
    api.session.add(RobotClock(robot_id=robot.id, boot_id=boot, max_offset_us=2_000_000))
    api.session.flush()
    detail = api.client(UNDERWRITER).get(f"/v1/robots/{robot.id}").json()
    assert (detail["clock"]["boot_id"], detail["clock"]["skew_s"]) == (str(boot), 2.0)
    assert detail["sequence_gaps"] == {"open": 0, "oldest_open": None}
    assert (detail["open_review_cases"], detail["pending_rotation"]) == ([], None)
    bare = add_robot(api.session, api.tenant("alpha"))
    assert api.client(UNDERWRITER).get(f"/v1/robots/{bare.id}").json()["clock"] is None


def test_a_new_gap_changes_the_etag(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    client = api.client(UNDERWRITER)
    etag = client.get(f"/v1/robots/{robot.id}").headers["etag"]
    api.session.add(SequenceGap(robot_id=robot.id, first_seq=3, last_seq=4))
    api.session.flush()
    again = client.get(f"/v1/robots/{robot.id}", headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.json()["sequence_gaps"]["open"] == 1


def _serials(api: ApiHarness, who: Principal = UNDERWRITER, **params: str) -> list[str]:
    response = api.client(who).get("/v1/robots", params={"limit": "200", **params})
    assert response.status_code == 200, response.text
    return sorted(item["serial_number"] for item in response.json()["items"])


def test_serial_numbers_are_searched_by_prefix_wildcards_taken_literally(api: ApiHarness) -> None:
    alpha, beta = api.tenant("alpha"), api.tenant("beta")
    for tenant, serial in [
        (alpha, "QZ10-001"),
        (beta, "QZ10-002"),
        (alpha, "QZ1_X"),
        (alpha, "QZ1%Y"),
        (alpha, "XQZ10"),
    ]:
        add_robot(api.session, tenant, serial_number=serial)
    assert _serials(api, serial="QZ10") == ["QZ10-001", "QZ10-002"]
    assert _serials(api, serial="QZ1_") == ["QZ1_X"]  # not QZ10-...: "_" is no wildcard
    assert _serials(api, serial="QZ1%") == ["QZ1%Y"]
    assert _serials(api, OWNER, serial="QZ10") == ["QZ10-001"]  # its own tenant's only


def test_the_prefix_search_is_served_by_the_index(api: ApiHarness) -> None:
    api.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = api.session.execute(
        text("EXPLAIN SELECT id FROM robots WHERE serial_number LIKE :pattern ESCAPE '\\'"),
        {"pattern": "QZ10%"},
    ).scalars()
    assert "ix_robots_serial_number_prefix" in "\n".join(plan)


def test_robots_with_an_open_review_case_or_tamper_case(api: ApiHarness) -> None:
    tenant = api.tenant("alpha")
    tampered = add_robot(api.session, tenant, serial_number="RV-TAMPER")
    conduct = add_robot(api.session, tenant, serial_number="RV-CONDUCT")
    cleared = add_robot(api.session, tenant, serial_number="RV-CLEARED")
    add_robot(api.session, tenant, serial_number="RV-CLEAN")
    api.session.add_all(
        [
            _case(tampered, CaseCategory.TAMPER),
            _case(conduct, CaseCategory.CONDUCT),
            _case(cleared, CaseCategory.TAMPER, closed=True),
        ]
    )
    api.session.flush()
    assert _serials(api, serial="RV-", review="open") == ["RV-CONDUCT", "RV-TAMPER"]
    assert _serials(api, serial="RV-", review="none") == ["RV-CLEAN", "RV-CLEARED"]
    assert _serials(api, serial="RV-", tamper="true") == ["RV-TAMPER"]
    assert _serials(api, serial="RV-", tamper="false") == ["RV-CLEAN", "RV-CLEARED", "RV-CONDUCT"]
    auditor = principal(Role.AUDITOR)
    assert _serials(api, auditor, serial="RV-", review="open") == ["RV-CONDUCT", "RV-TAMPER"]
    bad = api.client(UNDERWRITER).get("/v1/robots", params={"review": "maybe"})
    assert bad.status_code == 400
    for who in (OWNER, principal(Role.CLAIMS_ADJUSTER)):
        refused = api.client(who).get("/v1/robots", params={"review": "open"})
        assert refused.status_code == 403
        assert "reviews:read" in refused.json()["detail"]
