"""Enrollment, cloud side: POST /v1/enrollments on a real database and a real broker."""

from __future__ import annotations

import base64
import threading
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr
from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session

from cloud_api.app import create_app
from cloud_api.enrollment.service import IssuedToken, RobotNotPendingError, issue_token
from cloud_api.settings import ApiSettings
from database.models import EnrollmentToken, Robot, RobotClass, RobotKey
from database.settings import CloudSettings
from edge_agent.enroll import EnrollmentError, enroll
from edge_agent.identity import KEY_FILE, load_identity, load_signer
from firmware_protocol import RobotSigner, Topic, TopicKind
from tests.support.broker import MosquittoBroker, free_port, wait_for_port

with warnings.catch_warnings():
    # Starlette 1.x asks for its httpx fork, which this environment does not install.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def api_settings(fresh_database: CloudSettings, mqtt_broker: MosquittoBroker) -> ApiSettings:
    admin = mqtt_broker.admin_credentials
    return ApiSettings(
        database_url=fresh_database.database_url,
        mqtt_url=mqtt_broker.url,
        mqtt_admin_username=admin.username,
        mqtt_admin_password=admin.password,
    )


def _issue(settings: ApiSettings, serial: str = "SN-1", *, ttl_s: int = 600) -> IssuedToken:
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    with Session(engine) as session, session.begin():
        issued = issue_token(
            session, tenant="acme", serial_number=serial, robot_class=RobotClass.COBOT,
            manufacturer="Universal Robots", model="UR10e", ttl=timedelta(seconds=ttl_s),
            now=datetime.now(UTC),
        )  # fmt: skip
    engine.dispose()
    return issued


def _robot(settings: ApiSettings, robot_id: uuid.UUID) -> Robot:
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    with Session(engine) as session:
        robot = session.get_one(Robot, robot_id)
        session.expunge(robot)
    engine.dispose()
    return robot


def _key() -> str:
    return base64.b64encode(RobotSigner.generate().public_key).decode()


@pytest.fixture
def client(api_settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def test_a_token_enrolls_its_robot_once(api_settings: ApiSettings, client: TestClient) -> None:
    issued = _issue(api_settings)
    key = RobotSigner.generate().public_key
    answer = client.post(
        "/v1/enrollments",
        json={"token": issued.token, "public_key": base64.b64encode(key).decode()},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["robot_id"] == str(issued.robot_id)
    assert body["tenant"] == "acme"
    robot = _robot(api_settings, issued.robot_id)
    assert (robot.status, robot.signing_public_key) == ("active", key)
    assert robot.mqtt_username == body["mqtt_username"]
    assert robot.enrolled_at is not None
    again = client.post("/v1/enrollments", json={"token": issued.token, "public_key": _key()})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["detail"] == "the enrollment token was already used"
    # Only a hash of the token is stored.
    engine = create_engine(api_settings.sqlalchemy_url, poolclass=pool.NullPool)
    with Session(engine) as session:
        stored = session.scalars(select(EnrollmentToken.secret_hash)).all()
    engine.dispose()
    assert all(issued.token.split(".")[1].encode() not in h for h in stored)


@pytest.mark.parametrize(
    ("mangle", "status"),
    [
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), 401),
        (lambda t: uuid.uuid4().hex + "." + t.split(".")[1], 401),
        (lambda t: "not-a-token." + t.split(".")[1], 401),
    ],
)
def test_a_wrong_token_is_refused(
    api_settings: ApiSettings, client: TestClient, mangle: object, status: int
) -> None:
    issued = _issue(api_settings)
    token = mangle(issued.token)  # type: ignore[operator]
    answer = client.post("/v1/enrollments", json={"token": token, "public_key": _key()})
    assert answer.status_code == status
    assert _robot(api_settings, issued.robot_id).status == "pending"


def test_an_expired_token_is_gone(api_settings: ApiSettings, client: TestClient) -> None:
    issued = _issue(api_settings, ttl_s=-1)
    answer = client.post("/v1/enrollments", json={"token": issued.token, "public_key": _key()})
    assert answer.status_code == 410


def test_a_new_token_voids_the_older_ones(api_settings: ApiSettings, client: TestClient) -> None:
    first = _issue(api_settings)
    second = _issue(api_settings)
    assert second.robot_id == first.robot_id
    old = client.post("/v1/enrollments", json={"token": first.token, "public_key": _key()})
    assert old.status_code == 410
    assert old.json()["detail"] == "a newer enrollment token was issued for this robot"
    assert _robot(api_settings, first.robot_id).status == "pending"
    key = RobotSigner.generate().public_key
    new = client.post(
        "/v1/enrollments",
        json={"token": second.token, "public_key": base64.b64encode(key).decode()},
    )
    assert new.status_code == 201, new.text
    engine = create_engine(api_settings.sqlalchemy_url, poolclass=pool.NullPool)
    with Session(engine) as session:
        keys = session.execute(select(RobotKey.first_seq, RobotKey.public_key)).all()
    engine.dispose()
    assert [tuple(row) for row in keys] == [(0, key)]


def test_a_bad_public_key_is_a_validation_error(
    api_settings: ApiSettings, client: TestClient
) -> None:
    issued = _issue(api_settings)
    short = base64.b64encode(b"x" * 31).decode()
    for key in (short, "***"):
        answer = client.post("/v1/enrollments", json={"token": issued.token, "public_key": key})
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert (problem["title"], problem["status"]) == ("Invalid request", 422)
        assert problem["errors"][0]["location"] == ["body", "public_key"]
        assert "public_key" in problem["detail"]


def test_an_enrolled_robot_gets_no_second_token_and_keys_are_unique(
    api_settings: ApiSettings, client: TestClient
) -> None:
    stale = _issue(api_settings, "SN-A")
    first = _issue(api_settings, "SN-A")  # a second token for the same pending robot
    key = _key()
    assert (
        client.post("/v1/enrollments", json={"token": first.token, "public_key": key}).status_code
        == 201
    )
    with pytest.raises(RobotNotPendingError):
        _issue(api_settings, "SN-A")
    assert (
        client.post(
            "/v1/enrollments", json={"token": stale.token, "public_key": _key()}
        ).status_code
        == 410  # voided: a newer token was issued after it
    )
    other = _issue(api_settings, "SN-B")
    answer = client.post("/v1/enrollments", json={"token": other.token, "public_key": key})
    assert answer.status_code == 409
    assert "another robot" in answer.json()["detail"]


def test_enrollment_fails_cleanly_when_the_broker_is_down(
    api_settings: ApiSettings, tmp_path: Path
) -> None:
    down = MosquittoBroker(tmp_path)  # never started
    settings = api_settings.model_copy(
        update={"mqtt_url": api_settings.mqtt_url.__class__(down.url)}
    )
    issued = _issue(settings)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/v1/enrollments", json={"token": issued.token, "public_key": _key()})
        assert answer.status_code == 503
    # Nothing was committed: the robot is still pending and the token still unused.
    assert _robot(settings, issued.robot_id).status == "pending"


def test_the_agent_enrolls_once_the_broker_it_waited_for_is_back(
    api_settings: ApiSettings, tmp_path: Path
) -> None:
    """503 with Retry-After while the broker is away: the agent tries again, and enrolls when
    the broker answers; a refusal is not retried."""
    later = MosquittoBroker(tmp_path / "later")  # started while the agent is trying
    admin = later.admin_credentials
    settings = api_settings.model_copy(
        update={
            "mqtt_url": api_settings.mqtt_url.__class__(later.url),
            "mqtt_admin_username": admin.username,
            "mqtt_admin_password": SecretStr(admin.password),
        }
    )
    issued = _issue(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    starter = threading.Timer(2.0, later.start)
    try:
        wait_for_port(port)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/enrollments",
            json={"token": issued.token, "public_key": _key()},
        )
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "2"
        starter.start()
        identity = enroll(
            cloud_url=f"http://127.0.0.1:{port}",
            token=issued.token,
            state_dir=tmp_path / "agent",
            retry_for_s=60,
        )
        with pytest.raises(EnrollmentError, match="409"):  # final at once, not retried
            enroll(
                cloud_url=f"http://127.0.0.1:{port}",
                token=issued.token,
                state_dir=tmp_path / "other",
                retry_for_s=3600,
            )
    finally:
        starter.cancel()
        starter.join()
        server.should_exit = True
        thread.join(10)
        later.stop()
    assert identity.robot_id == issued.robot_id
    assert _robot(settings, issued.robot_id).status == "active"


def test_the_agent_enrolls_against_a_running_api_and_publishes(
    api_settings: ApiSettings, mqtt_broker: MosquittoBroker, tmp_path: Path
) -> None:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(api_settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        issued = _issue(api_settings)
        state = tmp_path / "agent"
        with pytest.raises(EnrollmentError, match="401"):
            enroll(cloud_url=f"http://127.0.0.1:{port}", token=issued.token + "x", state_dir=state)
        identity = enroll(cloud_url=f"http://127.0.0.1:{port}", token=issued.token, state_dir=state)
        with pytest.raises(EnrollmentError, match="already enrolled"):
            enroll(cloud_url=f"http://127.0.0.1:{port}", token=issued.token, state_dir=state)
    finally:
        server.should_exit = True
        thread.join(10)
    assert identity.robot_id == issued.robot_id
    assert load_identity(state) == identity
    # The private key stayed here, readable by the agent alone; the cloud has the public half.
    assert (state / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert (state / "identity.json").stat().st_mode & 0o777 == 0o600
    robot = _robot(api_settings, issued.robot_id)
    assert robot.signing_public_key == load_signer(state).public_key
    # And the credentials work on the broker, for this robot's topics.
    published = threading.Event()
    codes: list[object] = []
    assert identity.mqtt_client_id == f"robot-{identity.robot_id}"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=identity.mqtt_client_id, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(identity.mqtt_username, identity.mqtt_password)

    def on_publish(_c: object, _u: object, _m: int, reason: object, _p: object) -> None:
        codes.append(reason)
        published.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", mqtt_broker.port)
    client.loop_start()
    topic = str(Topic(identity.tenant, str(identity.robot_id), TopicKind.TELEMETRY))
    client.publish(topic, b"x", qos=1)
    assert published.wait(10)
    client.disconnect()
    client.loop_stop()
    assert not codes[0].is_failure  # type: ignore[attr-defined]
