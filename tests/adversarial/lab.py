"""The lab of the identity and lifecycle attacks: real `robocover-agent` processes enrolled
through the enrollment service, the real `robocover robots ...` and `robocover reviews ...`
commands, the database as they leave it, and robots as raw MQTT clients. Its fixtures (`lab`,
`db`, `cli`, `agent_factory`) are registered by conftest.py."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.identity import Identity
from firmware_protocol import (
    RobotState,
    Status,
    decode,
)
from tests.adversarial.agents import AgentFactory
from tests.adversarial.conftest import IngestFactory
from tests.adversarial.lab_base import (
    Cli,
    Db,
)
from tests.support.broker import MosquittoBroker
from tests.support.ingest_process import eventually


class StatusWatcher:
    """A stand-in for the cloud (tests/support/broker.py STANDIN_ROLE) listening to one robot's
    status topic: every status the broker delivers (retained births, wills), decoded, with
    their bytes, as an eavesdropper on the broker would capture them."""

    def __init__(self, broker: MosquittoBroker, topic: str) -> None:
        self.topic = topic
        self.captured: list[tuple[Status, bytes]] = []
        self._lock = threading.Lock()
        client_id = f"watcher-{uuid.uuid4().hex[:8]}"
        creds = broker.standin_credentials(client_id)
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(creds.username, creds.password)
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the watcher could not subscribe"

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if not message.payload:
            return
        status = decode(bytes(message.payload)).message
        assert isinstance(status, Status)
        with self._lock:
            self.captured.append((status, bytes(message.payload)))

    def statuses(self, state: RobotState) -> list[tuple[Status, bytes]]:
        with self._lock:
            return [(s, p) for s, p in self.captured if s.state == state]

    def latest(
        self, state: RobotState, after: int = -1, timeout: float = 10
    ) -> tuple[Status, bytes]:
        """The status of this state with the greatest connection_seq beyond `after`, once one
        has come (the broker delivers to the ingest and to this watcher independently)."""
        found: list[tuple[Status, bytes]] = []

        def arrived() -> bool:
            found[:] = [(s, p) for s, p in self.statuses(state) if (s.connection_seq or 0) > after]
            return bool(found)

        eventually(arrived, timeout, f"a {state.name} status of a connection after {after}")
        return max(found, key=lambda sp: sp[0].connection_seq or 0)

    def publish(self, topic: str, payload: bytes) -> None:
        """What a cloud stand-in may publish (configs, or a message the broker still queues)."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class RobotClient:
    """A connection with a robot's own broker account, as its owner can open one."""

    def __init__(self, broker: MosquittoBroker, identity: Identity) -> None:
        self.answer: ReasonCode | None = None
        self._answered = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=identity.mqtt_client_id, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(identity.mqtt_username, identity.mqtt_password)
        self.client.on_connect = self._on_connect
        self.client.reconnect_delay_set(30, 60)  # one attempt is what the test looks at
        self.broker = broker

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        self.answer = reason
        self._answered.set()

    def connect(self, timeout: float = 10) -> bool:
        """True if the broker accepted the account."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 0
        self.client.connect("127.0.0.1", self.broker.port, clean_start=True, properties=properties)
        self.client.loop_start()
        assert self._answered.wait(timeout), "the broker did not answer the CONNECT"
        assert self.answer is not None
        return not self.answer.is_failure

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def account_accepted(broker: MosquittoBroker, identity: Identity) -> bool:
    client = RobotClient(broker, identity)
    try:
        return client.connect()
    finally:
        client.close()


@dataclass(frozen=True)
class Lab:
    """What a test of this module works with: the database, the staff's commands, the broker,
    ingest processes and agents (each stopped after the test) and MQTT clients (closed)."""

    db: Db
    cli: Cli
    broker: MosquittoBroker
    start_ingest: IngestFactory
    new_agent: AgentFactory
    clients: list[StatusWatcher | RobotClient]

    def watch(self, topic: str) -> StatusWatcher:
        watcher = StatusWatcher(self.broker, topic)
        self.clients.append(watcher)
        return watcher

    def owner(self, identity: Identity) -> RobotClient:
        client = RobotClient(self.broker, identity)
        self.clients.append(client)
        return client


@pytest.fixture
def lab(
    db: Db,
    cli: Cli,
    mqtt_broker: MosquittoBroker,
    start_ingest: IngestFactory,
    agent_factory: AgentFactory,
) -> Iterator[Lab]:
    clients: list[StatusWatcher | RobotClient] = []
    yield Lab(db, cli, mqtt_broker, start_ingest, agent_factory, clients)
    for client in clients:
        client.close()


def judged_marker(robot_topic_telemetry: str, publish: Callable[[str, bytes], None]) -> None:
    """Publish a payload that cannot decode behind what was just sent: once its dead letter
    exists, the ingest has judged everything before it (one connection, one topic order)."""
    publish(robot_topic_telemetry, b"X-marker")


def wait_judged(db: Db, robot_id: uuid.UUID, markers_before: int) -> None:
    eventually(
        lambda: db.dead_letters(robot_id).count("bad_magic") > markers_before,
        20,
        "the marker behind the replayed messages was judged",
    )
