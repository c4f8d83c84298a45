"""The robots and reviews services on the real database and a real broker: the broker follows
what the database says, after the commit."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, create_engine, pool, select
from sqlalchemy.orm import Session

from cloud_api.broker_accounts import DynsecAdmin, MqttCredentials
from cloud_api.reviews.service import (
    CaseClosedError,
    CaseNotFoundError,
    case_with_audit,
    decide,
    list_cases,
)
from cloud_api.robots import service
from cloud_api.robots.broker import apply_changes
from database.models import (
    CaseStatus,
    CredentialRotation,
    ReviewCase,
    ReviewCaseAction,
    Robot,
    RobotAction,
    RobotKey,
)
from database.settings import CloudSettings
from firmware_protocol import Config, RobotSigner, Topic, TopicKind, decode
from tests.support.broker import MosquittoBroker
from tests.support.fleet import register_robot

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


class Broker:
    """The robots service's broker port, on the test's real broker."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.broker = broker

    def ensure_robot(
        self, tenant: str, robot_id: uuid.UUID, rotation: int | None = None
    ) -> MqttCredentials:
        with self.broker.admin() as admin:
            return admin.ensure_robot(tenant, robot_id, rotation)


@pytest.fixture
def engine(fresh_database: CloudSettings) -> Iterator[Engine]:
    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    yield engine
    engine.dispose()


def _enrolled(
    engine: Engine, settings: CloudSettings, broker: MosquittoBroker
) -> tuple[uuid.UUID, RobotSigner, str]:
    signer = RobotSigner.generate()
    robot_id = register_robot(settings.libpq_url, signer)
    username, password = broker.add_robot("acme", robot_id)
    with Session(engine) as session, session.begin():
        robot = session.get_one(Robot, robot_id)
        robot.mqtt_username, robot.online = username, True  # connected, as far as we know
    return robot_id, signer, password


def _admin(broker: MosquittoBroker) -> DynsecAdmin:
    return broker.admin()


def _cloud(settings: CloudSettings, broker: MosquittoBroker) -> CloudSettings:
    creds = broker.cloud_credentials
    return CloudSettings(
        database_url=settings.database_url,
        mqtt_url=broker.url,
        mqtt_username=creds.username,
        mqtt_password=creds.password,
    )


def test_suspend_disables_the_account_and_reinstate_enables_it(
    engine: Engine, fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    robot_id, _, password = _enrolled(engine, fresh_database, mqtt_broker)
    username = f"robot-{robot_id}"
    assert mqtt_broker.robot_connects(robot_id, username, password)
    with Session(engine) as session, session.begin():
        changes = service.suspend(
            session, robot_id=robot_id, actor="ops@insurer", reason="unpaid", now=NOW
        )
    assert changes.disable == [username]
    apply_changes(changes, lambda: _admin(mqtt_broker), _cloud(fresh_database, mqtt_broker))
    assert not mqtt_broker.robot_connects(robot_id, username, password)
    with Session(engine) as session:
        # Kicked by the broker, a robot publishes no will: its standing says it is offline.
        assert session.get_one(Robot, robot_id).online is False
    with (
        Session(engine) as session,
        session.begin(),
        pytest.raises(service.StandingError, match="allowed: reinstate, revoke"),
    ):
        service.suspend(session, robot_id=robot_id, actor="x", reason="again", now=NOW)
    with Session(engine) as session, session.begin():
        changes = service.reinstate(
            session, robot_id=robot_id, actor="ops@insurer", reason="paid", now=NOW
        )
    apply_changes(changes, lambda: _admin(mqtt_broker), _cloud(fresh_database, mqtt_broker))
    assert mqtt_broker.robot_connects(robot_id, username, password)
    with Session(engine) as session:
        audit = session.execute(
            select(RobotAction.actor, RobotAction.action, RobotAction.reason).order_by(
                RobotAction.id
            )
        ).all()
        robot = session.get_one(Robot, robot_id)
        assert (robot.status, robot.status_reason) == ("active", "paid")
    assert [tuple(a) for a in audit] == [
        ("ops@insurer", "suspended", "unpaid"),
        ("ops@insurer", "reinstated", "paid"),
    ]


def test_revoke_is_final_and_cancels_a_rotation(
    engine: Engine, fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    robot_id, _, _ = _enrolled(engine, fresh_database, mqtt_broker)
    with Session(engine) as session, session.begin():
        request = service.request_rotation(
            session,
            Broker(mqtt_broker),
            robot_id=robot_id,
            actor="sec",
            ttl=timedelta(hours=1),
            now=NOW,
        )
    with Session(engine) as session, session.begin():
        changes = service.revoke(session, robot_id=robot_id, actor="sec", reason="stolen", now=NOW)
    assert sorted(changes.disable) == sorted([f"robot-{robot_id}", request.new_username])
    with (
        Session(engine) as session,
        session.begin(),
        pytest.raises(service.StandingError, match="allowed: none"),
    ):
        service.reinstate(session, robot_id=robot_id, actor="x", reason="y", now=NOW)
    with Session(engine) as session:
        assert session.scalar(select(CredentialRotation.state)) == "cancelled"
        assert session.scalar(select(RobotKey.retired_at)) == NOW
    with Session(engine) as session, session.begin(), pytest.raises(service.RobotNotFoundError):
        service.suspend(session, robot_id=uuid.uuid4(), actor="x", reason="y", now=NOW)


def test_a_rotation_seals_the_new_account_to_the_robot_and_settles(
    engine: Engine, fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    robot_id, signer, password = _enrolled(engine, fresh_database, mqtt_broker)
    old = f"robot-{robot_id}"
    cloud = _cloud(fresh_database, mqtt_broker)
    with Session(engine) as session, session.begin():
        request = service.request_rotation(
            session,
            Broker(mqtt_broker),
            robot_id=robot_id,
            actor="sec",
            ttl=timedelta(hours=1),
            now=NOW,
        )
        with pytest.raises(service.RotationPendingError):
            service.request_rotation(
                session,
                Broker(mqtt_broker),
                robot_id=robot_id,
                actor="sec",
                ttl=timedelta(hours=1),
                now=NOW,
            )
    apply_changes(request.changes, lambda: _admin(mqtt_broker), cloud)
    # The retained config holds the new account, sealed: only the robot's key opens it.
    (tenant, robot, _config) = request.changes.configs[0]
    received: list[bytes] = []
    got = threading.Event()
    listener_id = f"standin-{uuid.uuid4().hex[:8]}"
    creds = mqtt_broker.standin_credentials(listener_id)
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=listener_id, protocol=mqtt.MQTTv5)
    listener.username_pw_set(creds.username, creds.password)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        received.append(bytes(message.payload))
        got.set()

    listener.on_message = on_message
    listener.connect("127.0.0.1", mqtt_broker.port)
    listener.subscribe(str(Topic(tenant, str(robot), TopicKind.CONFIG)), qos=1)
    listener.loop_start()
    assert got.wait(10)
    listener.disconnect()
    listener.loop_stop()
    retained = decode(received[0]).message
    assert isinstance(retained, Config)
    assert retained.rotation_id == request.rotation_id
    username, new_password = signer.open_credentials(retained.rotation_credentials or b"")
    assert username == request.new_username == f"robot-{robot_id}-r{request.rotation_id}"
    assert mqtt_broker.robot_connects(robot_id, username, new_password)  # both work meanwhile
    assert mqtt_broker.robot_connects(robot_id, old, password)
    # Not yet answered: settling changes nothing.
    with Session(engine) as session, session.begin():
        assert service.settle_rotations(session, now=NOW).delete == []
    with Session(engine) as session, session.begin():
        session.get_one(CredentialRotation, request.rotation_id).state = "confirmed"  # the ingest's
    with Session(engine) as session, session.begin():
        changes = service.settle_rotations(session, now=NOW)
    assert changes.delete == [old]
    apply_changes(changes, lambda: _admin(mqtt_broker), cloud)
    assert not mqtt_broker.robot_connects(robot_id, old, password)
    assert mqtt_broker.robot_connects(robot_id, username, new_password)
    with Session(engine) as session:
        assert session.get_one(Robot, robot_id).mqtt_username == username
        assert session.get_one(CredentialRotation, request.rotation_id).state == "completed"


def test_a_rotation_never_answered_stays_pending_and_its_account_with_it(
    engine: Engine, fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    """The request stays queued for the robot, which may act on it days later, onto the account
    it holds sealed: deleting that account would lock the robot out for good."""
    robot_id, signer, _ = _enrolled(engine, fresh_database, mqtt_broker)
    with Session(engine) as session, session.begin():
        request = service.request_rotation(
            session,
            Broker(mqtt_broker),
            robot_id=robot_id,
            actor="sec",
            ttl=timedelta(hours=1),
            now=NOW,
        )
    config = request.changes.configs[0][2]
    username, new_password = signer.open_credentials(config.rotation_credentials or b"")
    with Session(engine) as session, session.begin():
        changes = service.settle_rotations(session, now=NOW + timedelta(days=30))
    assert changes.delete == []
    assert mqtt_broker.robot_connects(robot_id, username, new_password)
    with Session(engine) as session:
        assert session.get_one(CredentialRotation, request.rotation_id).state == "requested"


def test_a_review_case_is_decided_once_with_who_and_why(
    engine: Engine, fresh_database: CloudSettings
) -> None:
    robot_id = register_robot(fresh_database.libpq_url, RobotSigner.generate())
    with Session(engine) as session, session.begin():
        case = ReviewCase(robot_id=robot_id, category="tamper", reason="bad_signature")
        session.add(case)
        session.flush()
        case_id = case.id
    with Session(engine) as session, session.begin():
        with pytest.raises(ValueError, match="reason"):
            decide(
                session, case_id=case_id, outcome=CaseStatus.CLEARED, actor="a", note=" ", now=NOW
            )
        with pytest.raises(ValueError, match="clears or confirms"):
            decide(session, case_id=case_id, outcome=CaseStatus.OPEN, actor="a", note="n", now=NOW)
        with pytest.raises(CaseNotFoundError):
            decide(
                session,
                case_id=case_id + 1,
                outcome=CaseStatus.CLEARED,
                actor="a",
                note="n",
                now=NOW,
            )
        decided = decide(
            session,
            case_id=case_id,
            outcome=CaseStatus.CLEARED,
            actor="claims@insurer",
            note="firmware bug 5.11.2",
            now=NOW,
        )
        assert (decided.status, decided.resolved_by) == ("cleared", "claims@insurer")
    with Session(engine) as session, session.begin(), pytest.raises(CaseClosedError):
        decide(session, case_id=case_id, outcome=CaseStatus.CONFIRMED, actor="b", note="n", now=NOW)
    with Session(engine) as session:
        actions = session.execute(
            select(ReviewCaseAction.actor, ReviewCaseAction.action, ReviewCaseAction.note)
        ).all()
    assert [tuple(a) for a in actions] == [("claims@insurer", "cleared", "firmware bug 5.11.2")]
    with Session(engine) as session, session.begin():
        assert list_cases(session, robot_id=robot_id, open_only=True, limit=10) == []
        (listed,) = list_cases(session, robot_id=robot_id, open_only=False, limit=10)
        shown, audit = case_with_audit(session, case_id)
        assert listed.id == shown.id == case_id
        assert [(a.actor, a.action) for a in audit] == [("claims@insurer", "cleared")]
        with pytest.raises(CaseNotFoundError):
            case_with_audit(session, case_id + 1)
