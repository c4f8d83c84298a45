"""GET/POST /v1/robots and GET /v1/robots/{id}: what each principal sees, pages, filters, ETags,
registration with a one-time token."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cloud_api.access.roles import Role
from database.models import AuditEvent, EnrollmentToken, Robot, RobotAction, RobotClass, RobotStatus
from tests.integration.api.robot_factories import add_robot
from tests.support.api import ApiHarness, principal

ADMIN = principal(Role.ADMIN)
UNDERWRITER = principal(Role.UNDERWRITER)


def test_staff_page_through_every_tenants_robots_with_cursors(api: ApiHarness) -> None:
    alpha, beta = api.tenant("alpha"), api.tenant("beta")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = [
        add_robot(api.session, alpha if i % 2 else beta, created_at=start + timedelta(minutes=i))
        for i in range(5)
    ]
    client = api.client(UNDERWRITER)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/robots", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    mine = [str(robot.id) for robot in made]
    assert [robot_id for robot_id in seen if robot_id in mine] == mine  # oldest first, once each
    assert pages >= 3


def test_a_policyholder_lists_only_its_own_tenants_robots(api: ApiHarness) -> None:
    alpha, beta = api.tenant("alpha"), api.tenant("beta")
    own = add_robot(api.session, alpha)
    add_robot(api.session, beta)
    for who in (
        principal(Role.POLICYHOLDER, "alpha"),
        principal(Role.SERVICE, "alpha", "robots:read"),
    ):
        body = api.client(who).get("/v1/robots", params={"limit": "200"}).json()
        assert [item["id"] for item in body["items"]] == [str(own.id)]
        assert {item["tenant"] for item in body["items"]} == {"alpha"}
        # Naming another tenant does not widen the scope.
        other = api.client(who).get("/v1/robots", params={"tenant": "beta"}).json()
        assert other["items"] == []


def test_filters_by_status_class_tenant_and_presence(api: ApiHarness) -> None:
    alpha, beta = api.tenant("alpha"), api.tenant("beta")
    arm = add_robot(api.session, alpha, robot_class=RobotClass.INDUSTRIAL_ARM, online=True)
    suspended = add_robot(api.session, alpha, status=RobotStatus.SUSPENDED)
    other = add_robot(api.session, beta, online=True)
    client = api.client(ADMIN)

    def ids(**params: str) -> set[str]:
        response = client.get("/v1/robots", params={"limit": "200", **params})
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert ids(tenant="alpha") == {str(arm.id), str(suspended.id)}
    assert ids(tenant="alpha", status="suspended") == {str(suspended.id)}
    assert ids(tenant="alpha", robot_class="industrial_arm") == {str(arm.id)}
    assert str(other.id) in ids(online="true")
    assert str(suspended.id) not in ids(online="true")
    assert str(suspended.id) in ids(online="false")


def test_bad_filters_sorts_and_limits_are_problems(api: ApiHarness) -> None:
    client = api.client(ADMIN)
    unknown = client.get("/v1/robots", params={"colour": "red"})
    assert unknown.status_code == 400
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "status" in unknown.json()["detail"]  # names the filters allowed
    assert client.get("/v1/robots", params={"status": "sleeping"}).status_code == 400
    assert client.get("/v1/robots", params={"online": "maybe"}).status_code == 400
    assert client.get("/v1/robots", params={"sort": "mqtt_username"}).status_code == 400
    too_many = client.get("/v1/robots", params={"limit": "1000"})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["location"] == ["query", "limit"]
    forged = client.get("/v1/robots", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert forged.status_code == 400


def test_one_robot_with_a_weak_etag_that_follows_its_standing(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    client = api.client(ADMIN)
    first = client.get(f"/v1/robots/{robot.id}")
    assert first.status_code == 200
    body = first.json()
    assert body["tenant"] == "alpha"
    assert body["status"] == "active"
    assert "signing_public_key" not in body
    assert "mqtt_username" not in body
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    same = client.get(f"/v1/robots/{robot.id}", headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.headers["etag"] == etag
    robot.status = RobotStatus.SUSPENDED.value
    robot.status_reason = "test"
    api.session.flush()
    changed = client.get(f"/v1/robots/{robot.id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_another_tenants_robot_is_not_found_and_an_unknown_one_alike(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"), serial_number="SECRET-SERIAL")
    api.tenant("beta")
    client = api.client(principal(Role.POLICYHOLDER, "beta"))
    theirs = client.get(f"/v1/robots/{robot.id}")
    unknown = client.get(f"/v1/robots/{uuid.uuid4()}")
    assert theirs.status_code == unknown.status_code == 404
    assert "SECRET-SERIAL" not in theirs.text
    assert "alpha" not in theirs.text


def test_a_policyholder_registers_a_robot_in_its_tenant_and_sees_the_token_once(
    api: ApiHarness,
) -> None:
    tenant = api.tenant("alpha")
    holder = principal(Role.POLICYHOLDER, "alpha")
    client = api.client(holder)
    body = {
        "serial_number": "SN-NEW-1",
        "robot_class": "cobot",
        "manufacturer": "Acme",
        "model": "C5",
    }
    response = client.post("/v1/robots", json=body)
    assert response.status_code == 201, response.text
    registered = response.json()
    assert registered["robot"]["status"] == "pending"
    assert registered["robot"]["tenant"] == "alpha"
    assert response.headers["location"] == f"/v1/robots/{registered['robot']['id']}"
    assert response.headers["cache-control"] == "no-store"
    token = registered["enrollment_token"]
    robot_id = uuid.UUID(registered["robot"]["id"])
    stored = api.session.scalars(
        select(EnrollmentToken).where(EnrollmentToken.robot_id == robot_id)
    ).one()
    assert token.startswith(stored.id.hex + ".")
    assert stored.secret_hash == hashlib.sha256(token.split(".", 1)[1].encode()).digest()
    # The token is in no later answer, and nowhere in the audit trail.
    later = client.get(f"/v1/robots/{robot_id}").text
    assert token not in later
    event = api.session.scalars(
        select(AuditEvent).where(AuditEvent.target_id == str(robot_id))
    ).one()
    assert event.action == "robots:register"
    assert event.actor_id == holder.id
    assert event.tenant_id == tenant.id
    assert token.split(".", 1)[1] not in str(event.detail)
    action = api.session.scalars(select(RobotAction).where(RobotAction.robot_id == robot_id)).one()
    assert (action.action, action.actor) == ("registered", str(holder.id))


def test_registration_outside_ones_tenant_or_in_no_tenant_is_refused(api: ApiHarness) -> None:
    api.tenant("alpha")
    api.tenant("beta")
    body = {"serial_number": "SN-X", "robot_class": "cobot", "manufacturer": "Acme", "model": "C5"}
    holder = api.client(principal(Role.POLICYHOLDER, "alpha"))
    assert holder.post("/v1/robots", json={**body, "tenant": "beta"}).status_code == 404
    admin = api.client(ADMIN)
    assert admin.post("/v1/robots", json=body).status_code == 422  # staff must name it
    assert admin.post("/v1/robots", json={**body, "tenant": "nowhere"}).status_code == 404
    created = admin.post("/v1/robots", json={**body, "tenant": "beta"})
    assert created.status_code == 201
    assert created.json()["robot"]["tenant"] == "beta"
    invalid = admin.post("/v1/robots", json={**body, "tenant": "beta", "robot_class": "drone"})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"


def test_registering_an_enrolled_serial_again_is_a_conflict(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"), serial_number="SN-TAKEN")
    body = {"serial_number": "SN-TAKEN", "robot_class": "cobot", "manufacturer": "A", "model": "B"}
    response = api.client(principal(Role.POLICYHOLDER, "alpha")).post("/v1/robots", json=body)
    assert response.status_code == 409
    assert api.session.get_one(Robot, robot.id).status == "active"
