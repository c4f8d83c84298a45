"""A robot cannot publish on, or subscribe to, another robot's topics."""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from firmware_protocol import Topic, TopicKind
from tests.support.broker import MosquittoBroker


class _Robot:
    def __init__(self, broker: MosquittoBroker, tenant: str, robot_id: uuid.UUID) -> None:
        self.robot_id, self.tenant = robot_id, tenant
        username, password = broker.add_robot(tenant, robot_id)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"robot-{robot_id}", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(username, password)
        self.acks: dict[int, ReasonCode] = {}
        self.granted: list[ReasonCode] = []
        self.received: list[str] = []
        self._event = threading.Condition()
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda _c, _u, m: self.received.append(m.topic)
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert connected.wait(10)

    def _on_publish(self, _c: object, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with self._event:
            self.acks[mid] = reason
            self._event.notify_all()

    def _on_subscribe(
        self, _c: object, _u: object, _m: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        with self._event:
            self.granted.extend(reasons)
            self._event.notify_all()

    def topic(self, kind: TopicKind) -> str:
        return str(Topic(self.tenant, str(self.robot_id), kind))

    def publish(self, topic: str) -> ReasonCode:
        info = self.client.publish(topic, b"payload", qos=1)
        with self._event:
            assert self._event.wait_for(lambda: info.mid in self.acks, 10)
            return self.acks[info.mid]

    def subscribe(self, topic: str) -> ReasonCode:
        before = len(self.granted)
        self.client.subscribe(topic, qos=1)
        with self._event:
            assert self._event.wait_for(lambda: len(self.granted) > before, 10)
            return self.granted[-1]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_robot_cannot_publish_or_subscribe_on_another_robots_topics(
    mqtt_broker: MosquittoBroker,
) -> None:
    alice = _Robot(mqtt_broker, "acme", uuid.uuid4())
    bob = _Robot(mqtt_broker, "acme", uuid.uuid4())
    mallory = _Robot(mqtt_broker, "evil-corp", uuid.uuid4())
    try:
        for kind in (TopicKind.TELEMETRY, TopicKind.EVENTS, TopicKind.STATUS):
            assert not alice.publish(alice.topic(kind)).is_failure
            assert alice.publish(bob.topic(kind)).getName() == "Not authorized"
            assert mallory.publish(alice.topic(kind)).getName() == "Not authorized"
        # Nor may it write what only the cloud writes: its own acks and config.
        assert alice.publish(alice.topic(TopicKind.ACK)).getName() == "Not authorized"
        assert alice.publish(alice.topic(TopicKind.CONFIG)).getName() == "Not authorized"
        # It hears its own config and acks, and nobody else's traffic.
        assert not alice.subscribe(alice.topic(TopicKind.CONFIG)).is_failure
        assert not alice.subscribe(alice.topic(TopicKind.ACK)).is_failure
        assert alice.subscribe(bob.topic(TopicKind.CONFIG)).getName() == "Not authorized"
        assert alice.subscribe(bob.topic(TopicKind.TELEMETRY)).getName() == "Not authorized"
        assert alice.subscribe("rc/v1/#").getName() == "Not authorized"
        assert alice.received == []
    finally:
        for robot in (alice, bob, mallory):
            robot.close()
