"""A stand-in for the cloud side of the agent's protocol, for the agent's tests: it receives a
robot's messages through the real broker as the ingest does (the cloud service account), decodes
and verifies each one, records it, and acknowledges it on the robot's ack topic. The real ingest
replaces it in end-to-end tests."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware_protocol import (
    Ack,
    Config,
    Decoded,
    DropNotice,
    EventBatch,
    SeqRange,
    Topic,
    TopicKind,
    decode,
    encode,
    verify,
)
from tests.support.broker import MosquittoBroker


@dataclass
class CloudStandIn:
    broker: MosquittoBroker
    tenant: str
    robot_id: uuid.UUID
    public_key: bytes
    acknowledge: bool = True
    messages: dict[int, Decoded] = field(default_factory=dict)
    arrival_order: list[int] = field(default_factory=list)
    duplicates: int = 0
    statuses: list[Decoded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        client_id = f"standin-{uuid.uuid4().hex[:8]}"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        creds = self.broker.standin_credentials(client_id)
        self._client.username_pw_set(creds.username, creds.password)
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._subscribed = threading.Event()
        self._client.on_subscribe = lambda *_a: self._subscribed.set()

    def topic(self, kind: TopicKind) -> str:
        return str(Topic(self.tenant, str(self.robot_id), kind))

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
        self._client.connect(
            "127.0.0.1", self.broker.port, clean_start=False, properties=properties
        )
        self._client.loop_start()
        assert self._subscribed.wait(10), "the stand-in could not subscribe"

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_args: object) -> None:
        client.subscribe(
            [(self.topic(k), 1) for k in (TopicKind.TELEMETRY, TopicKind.EVENTS, TopicKind.STATUS)]
        )

    def _on_message(self, client: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        decoded = decode(message.payload, topic=Topic.parse(message.topic), allow_json=False)
        verify(decoded, self.public_key)
        link = decoded.link
        with self._changed:
            if link is None:
                self.statuses.append(decoded)
            elif link.seq in self.messages:
                self.duplicates += 1
                assert self.messages[link.seq].digest == link.digest, f"fork at seq {link.seq}"
            else:
                self.messages[link.seq] = decoded
                self.arrival_order.append(link.seq)
            self._changed.notify_all()
        if link is not None and self.acknowledge:
            ack = Ack(self.robot_id, time.time_ns() // 1000, (SeqRange(link.seq, link.seq),))
            client.publish(self.topic(TopicKind.ACK), encode(ack), qos=1)

    def wait_until(self, predicate: Callable[[CloudStandIn], bool], timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))
        return True

    def publish_config(self, config: Config) -> None:
        self._client.publish(self.topic(TopicKind.CONFIG), encode(config), qos=1, retain=True)

    # ------------------------------------------------------------------ judging what arrived

    def has_all(self, next_seq: int) -> bool:
        return all(seq in self.messages for seq in range(next_seq))

    def chain_breaks(self) -> list[int]:
        """Seqs whose prev_digest is not the digest of the message before (drop notices bridge
        the ranges they cover)."""
        digests = {seq: d.digest for seq, d in self.messages.items()}
        for decoded in self.messages.values():
            if isinstance(decoded.message, DropNotice):
                notice = decoded.message
                digests[notice.first_seq - 1] = notice.digest_before
                digests[notice.last_seq] = notice.last_digest
        breaks = []
        for seq, decoded in self.messages.items():
            link = decoded.link
            assert link is not None
            if seq == 0:
                continue
            if digests.get(seq - 1) != link.prev_digest:
                breaks.append(seq)
        return breaks

    def events(self) -> list[EventBatch]:
        return [d.message for d in self.messages.values() if isinstance(d.message, EventBatch)]
