"""POST /v1/robots/{id}/suspend, /revoke, /reinstate and /credential-rotations: the standing
rules through the API, the audit trail and the robot's own actions, and the broker following
after the commit (a recorder here; the real broker in the last test)."""

from __future__ import annotations

import uuid

import pytest
from pydantic import SecretStr
from pydantic_core import Url
from sqlalchemy import select

from cloud_api.access.roles import Role
from cloud_api.robots.broker import MosquittoRobotBroker
from cloud_api.robots.endpoints import get_robot_broker
from cloud_api.settings import ApiSettings
from database.models import AuditEvent, CredentialRotation, RobotAction, RobotStatus
from firmware_protocol import RobotSigner
from tests.integration.api.robot_factories import RecordingBroker, add_robot
from tests.support.api import ApiHarness, principal
from tests.support.broker import MosquittoBroker

ADMIN = principal(Role.ADMIN)


@pytest.fixture
def broker(api: ApiHarness) -> RecordingBroker:
    recorder = RecordingBroker()
    api.app.dependency_overrides[get_robot_broker] = lambda: recorder
    return recorder


def _trail(api: ApiHarness, robot_id: uuid.UUID) -> list[tuple[str, str, str, str]]:
    """Each audit event's action, reason, and the status before and after."""
    events = api.session.scalars(
        select(AuditEvent).where(AuditEvent.target_id == str(robot_id)).order_by(AuditEvent.id)
    )
    return [
        (
            e.action,
            e.detail.get("reason", ""),
            e.detail["before"]["status"],
            e.detail["after"]["status"],
        )
        for e in events
    ]


def _actions(api: ApiHarness, robot_id: uuid.UUID) -> list[tuple[str, str, str]]:
    rows = api.session.scalars(
        select(RobotAction).where(RobotAction.robot_id == robot_id).order_by(RobotAction.id)
    )
    return [(a.action, a.actor, a.reason) for a in rows]


def test_suspend_reinstate_revoke_with_their_trail_and_the_broker_after(
    api: ApiHarness, broker: RecordingBroker
) -> None:
    robot = add_robot(api.session, api.tenant("alpha"), online=True)
    username = robot.mqtt_username
    client = api.client(ADMIN)
    url = f"/v1/robots/{robot.id}"

    suspended = client.post(f"{url}/suspend", json={"reason": "claims investigation"})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    assert suspended.json()["status_reason"] == "claims investigation"
    assert suspended.json()["online"] is False
    assert suspended.headers["etag"] == client.get(url).headers["etag"]
    assert [c.disable for c in broker.applied] == [[username]]

    reinstated = client.post(f"{url}/reinstate", json={"reason": "cleared"})
    assert reinstated.json()["status"] == "active"
    assert broker.applied[-1].enable == [username]

    revoked = client.post(f"{url}/revoke", json={"reason": "sold"})
    assert revoked.json()["status"] == "revoked"
    assert broker.applied[-1].disable == [username]

    assert _trail(api, robot.id) == [
        ("robots:suspend", "claims investigation", "active", "suspended"),
        ("robots:reinstate", "cleared", "suspended", "active"),
        ("robots:revoke", "sold", "active", "revoked"),
    ]
    actor = str(ADMIN.id)
    assert _actions(api, robot.id) == [
        ("suspended", actor, "claims investigation"),
        ("reinstated", actor, "cleared"),
        ("revoked", actor, "sold"),
    ]
    events = api.session.scalars(select(AuditEvent).where(AuditEvent.target_id == str(robot.id)))
    assert {(e.actor_id, e.tenant_id) for e in events} == {(ADMIN.id, robot.tenant_id)}


def test_a_wrong_standing_is_a_conflict_naming_the_allowed_moves(
    api: ApiHarness, broker: RecordingBroker
) -> None:
    robot = add_robot(api.session, api.tenant("alpha"), status=RobotStatus.SUSPENDED)
    client = api.client(ADMIN)
    again = client.post(f"/v1/robots/{robot.id}/suspend", json={"reason": "twice"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "allowed: reinstate, revoke" in again.json()["detail"]
    assert broker.applied == []  # a refused request changes nothing at the broker
    assert _trail(api, robot.id) == []
    client.post(f"/v1/robots/{robot.id}/revoke", json={"reason": "gone"})
    final = client.post(f"/v1/robots/{robot.id}/reinstate", json={"reason": "back?"})
    assert final.status_code == 409
    assert "allowed: none" in final.json()["detail"]


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 201}])
def test_a_reason_of_1_to_200_characters_is_required(
    api: ApiHarness, broker: RecordingBroker, body: dict[str, str]
) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    response = api.client(ADMIN).post(f"/v1/robots/{robot.id}/suspend", json=body)
    assert response.status_code == 422
    assert response.json()["errors"]
    assert api.client(ADMIN).get(f"/v1/robots/{robot.id}").json()["status"] == "active"


def test_a_policyholder_rotates_its_robots_credentials(
    api: ApiHarness, broker: RecordingBroker
) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    robot.signing_public_key = RobotSigner.generate().public_key
    api.session.flush()
    holder = principal(Role.POLICYHOLDER, "alpha")
    client = api.client(holder)
    response = client.post(f"/v1/robots/{robot.id}/credential-rotations")
    assert response.status_code == 201, response.text
    body = response.json()
    rotation = api.session.get_one(CredentialRotation, body["rotation_id"])
    assert (rotation.state, rotation.requested_by) == ("requested", str(holder.id))
    assert broker.accounts == [("alpha", robot.id, rotation.id)]
    assert rotation.new_mqtt_username == body["new_mqtt_username"]
    ((tenant, robot_id, config),) = broker.applied[-1].configs
    assert (tenant, robot_id, config.rotation_id) == ("alpha", robot.id, rotation.id)
    (event,) = api.session.scalars(select(AuditEvent).where(AuditEvent.target_id == str(robot.id)))
    assert (event.action, event.detail["after"]["rotation_id"]) == (
        "robots:rotate_credentials",
        rotation.id,
    )
    assert _actions(api, robot.id) == [("rotation_requested", str(holder.id), "")]
    assert client.post(f"/v1/robots/{robot.id}/credential-rotations").status_code == 409
    other = principal(Role.POLICYHOLDER, "beta")
    assert api.client(other).post(f"/v1/robots/{robot.id}/credential-rotations").status_code == 404


def test_a_pending_robot_has_no_credentials_to_rotate(
    api: ApiHarness, broker: RecordingBroker
) -> None:
    robot = add_robot(api.session, api.tenant("alpha"), status=RobotStatus.PENDING)
    response = api.client(ADMIN).post(f"/v1/robots/{robot.id}/credential-rotations")
    assert response.status_code == 409
    assert broker.accounts == []


@pytest.fixture
def real_broker(
    api: ApiHarness, api_settings: ApiSettings, mqtt_broker: MosquittoBroker
) -> MosquittoBroker:
    cloud, admin = mqtt_broker.cloud_credentials, mqtt_broker.admin_credentials
    settings = api_settings.model_copy(
        update={
            "mqtt_url": Url(mqtt_broker.url),
            "mqtt_username": cloud.username,
            "mqtt_password": SecretStr(cloud.password),
            "mqtt_admin_username": admin.username,
            "mqtt_admin_password": SecretStr(admin.password),
        }
    )
    api.app.dependency_overrides[get_robot_broker] = lambda: MosquittoRobotBroker(settings)
    return mqtt_broker


def test_the_real_broker_follows_suspension_and_reinstatement(
    api: ApiHarness, real_broker: MosquittoBroker
) -> None:
    robot = add_robot(api.session, api.tenant("acme"))
    username, password = real_broker.add_robot("acme", robot.id)
    robot.mqtt_username = username
    api.session.flush()
    assert real_broker.robot_connects(robot.id, username, password)
    client = api.client(ADMIN)
    assert client.post(f"/v1/robots/{robot.id}/suspend", json={"reason": "r"}).status_code == 200
    assert not real_broker.robot_connects(robot.id, username, password)
    assert client.post(f"/v1/robots/{robot.id}/reinstate", json={"reason": "r"}).status_code == 200
    assert real_broker.robot_connects(robot.id, username, password)
    assert client.post(f"/v1/robots/{robot.id}/revoke", json={"reason": "r"}).status_code == 200
    assert not real_broker.robot_connects(robot.id, username, password)
