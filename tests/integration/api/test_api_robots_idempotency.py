"""Idempotency-Key on the creating POSTs of robots: registration, credential rotation and the
on-demand rescore happen once per key; a replay of a registration carries no token; the same
key with another request is a 422."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from cloud_api.access.roles import Role
from cloud_api.robots.endpoints import get_robot_broker
from database.models import (
    AuditEvent,
    CredentialRotation,
    EnrollmentToken,
    IdempotencyKey,
    Robot,
    risk_scores,
)
from firmware_protocol import RobotSigner
from tests.integration.api.robot_factories import RecordingBroker, add_robot
from tests.integration.risk.risk_factories import approve_starter_plan
from tests.support.api import ApiHarness, principal

BODY = {"serial_number": "SN-IDEM-1", "robot_class": "cobot", "manufacturer": "A", "model": "B"}


def _count(api: ApiHarness, statement: object) -> int:
    return int(api.session.scalar(statement) or 0)  # type: ignore[call-overload]


def test_a_retried_registration_registers_once_and_the_replay_has_no_token(
    api: ApiHarness,
) -> None:
    api.tenant("alpha")
    client = api.client(principal(Role.POLICYHOLDER, "alpha"))
    headers = {"Idempotency-Key": "register-sn-idem-1"}
    first = client.post("/v1/robots", json=BODY, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["enrollment_token"]
    assert "idempotent-replayed" not in first.headers
    retry = client.post("/v1/robots", json=BODY, headers=headers)
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["enrollment_token"] is None
    assert retry.json()["robot"] == first.json()["robot"]
    robot_id = first.json()["robot"]["id"]
    tokens = select(func.count()).select_from(EnrollmentToken)
    assert _count(api, tokens.where(EnrollmentToken.robot_id == robot_id)) == 1
    robots = select(func.count()).select_from(Robot).where(Robot.serial_number == "SN-IDEM-1")
    assert _count(api, robots) == 1
    events = select(func.count()).select_from(AuditEvent).where(AuditEvent.target_id == robot_id)
    assert _count(api, events) == 1
    # The stored reply holds no token either: nothing secret sits in the database.
    token_secret = first.json()["enrollment_token"].split(".", 1)[1]
    stored = api.session.scalars(
        select(IdempotencyKey.response_body).where(IdempotencyKey.key == "register-sn-idem-1")
    ).one()
    assert stored["enrollment_token"] is None
    assert stored["robot"]["id"] == robot_id
    assert token_secret not in json.dumps(stored)
    other = client.post("/v1/robots", json={**BODY, "model": "C"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    # Without a key, a second registration issues a new token (and voids the first).
    again = client.post("/v1/robots", json=BODY)
    assert again.status_code == 201
    assert again.json()["enrollment_token"] not in (None, first.json()["enrollment_token"])


def test_a_retried_rotation_asks_once(api: ApiHarness) -> None:
    recorder = RecordingBroker()
    api.app.dependency_overrides[get_robot_broker] = lambda: recorder
    robot = add_robot(api.session, api.tenant("alpha"))
    robot.signing_public_key = RobotSigner.generate().public_key
    api.session.flush()
    client = api.client(principal(Role.POLICYHOLDER, "alpha"))
    url = f"/v1/robots/{robot.id}/credential-rotations"
    headers = {"Idempotency-Key": "rotate-1"}
    first = client.post(url, headers=headers)
    retry = client.post(url, headers=headers)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    rotations = select(func.count()).select_from(CredentialRotation)
    assert _count(api, rotations.where(CredentialRotation.robot_id == robot.id)) == 1
    assert len(recorder.accounts) == 1
    assert len(recorder.applied) == 1  # the replay published no second config
    # Without the key, the second request is a new one: a rotation is already under way.
    assert client.post(url).status_code == 409


def test_a_retried_rescore_rates_once(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    approve_starter_plan(
        api.session.connection(), effective_from=datetime.now(UTC) - timedelta(days=40)
    )
    client = api.client(principal(Role.UNDERWRITER))
    url = f"/v1/robots/{robot.id}/rescore"
    headers = {"Idempotency-Key": "rescore-1"}
    first = client.post(url, headers=headers)
    retry = client.post(url, headers=headers)
    assert (first.status_code, retry.status_code) == (200, 200), first.text
    assert retry.json()["id"] == first.json()["id"]
    scores = select(func.count()).select_from(risk_scores)
    assert _count(api, scores.where(risk_scores.c.robot_id == robot.id)) == 1
