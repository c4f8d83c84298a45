"""The publisher: MQTT 5 over paho, QoS 1, per-robot credentials, optional TLS.

States: DISCONNECTED -> CONNECTING -> ONLINE -> (connection lost) -> DISCONNECTED, waiting an
exponential backoff with jitter before the next attempt; STOPPED at the end. On every CONNACK
the publisher publishes the birth (STATUS ONLINE, retained), subscribes to its config and ack
topics, and then sends the outbox from its oldest unacknowledged message, in seq order. The
broker holds a pre-signed OFFLINE status as last will.

At most `inflight_window` messages are sent but not yet acknowledged by the cloud; payloads stay
in the outbox (SQLite), the window holds only seq numbers. A message unacknowledged for
`ack_timeout_s` makes the publisher send everything again from the oldest unacknowledged one
(the cloud treats a redelivery as a duplicate).
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from enum import StrEnum

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.identity import Identity
from edge_agent.outbox import Outbox
from edge_agent.settings import PublisherSettings
from firmware_protocol import (
    Ack,
    MessageKind,
    ProtocolError,
    RobotSigner,
    Status,
    Topic,
    TopicKind,
    decode,
    encode,
)

SESSION_EXPIRY_S = 3600  # acks published while the robot is away wait for it this long
NOT_AUTHORIZED = (134, 135)  # MQTT 5: bad user name or password, not authorized


logger = logging.getLogger(__name__)


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when its handshake fails. paho 2.2 drops a socket whose handshake failed
    without closing it (a ResourceWarning and a descriptor held until garbage collection, at
    every attempt against a broker the robot does not trust)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def tls_context(settings: PublisherSettings) -> ssl.SSLContext:
    """Verify the broker against `tls_ca_file` (or the system's CAs) and its host name;
    present a client certificate if one is configured."""
    cafile = str(settings.tls_ca_file) if settings.tls_ca_file else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if settings.tls_cert_file is not None:
        keyfile = str(settings.tls_key_file) if settings.tls_key_file else None
        context.load_cert_chain(str(settings.tls_cert_file), keyfile)
    context.sslsocket_class = _ClosingSSLSocket
    return context


class LinkState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    ONLINE = "online"
    STOPPED = "stopped"


class Backoff:
    """Exponential backoff with "equal jitter": a delay in [d/2, d], d doubling up to the cap."""

    def __init__(
        self, minimum_s: float, maximum_s: float, rng: random.Random | None = None
    ) -> None:
        self.minimum_s, self.maximum_s = minimum_s, max(minimum_s, maximum_s)
        self._attempt = 0
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def reset(self) -> None:
        self._attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum_s, self.minimum_s * 2 ** min(self._attempt, 30))
        self._attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)


class Publisher:
    def __init__(
        self,
        *,
        settings: PublisherSettings,
        host: str,
        port: int,
        tls: bool,
        identity: Identity,
        signer: RobotSigner,
        outbox: Outbox,
        birth: Callable[[], Status],
        last_will: Callable[[], Status],
        on_config: Callable[[bytes], None],
        on_connecting: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_connecting` is called before each connection attempt, before the last will of
        that connection is made (the agent counts connections: protocol 1.2 connection_seq)."""
        self._settings = settings
        self._host, self._port = host, port
        self._signer = signer
        self._outbox = outbox
        self._birth, self._last_will, self._on_config = birth, last_will, on_config
        self._on_connecting = on_connecting
        robot = str(identity.robot_id)
        self.topics = {kind: str(Topic(identity.tenant, robot, kind)) for kind in TopicKind}
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=identity.mqtt_client_id, protocol=mqtt.MQTTv5
        )
        self._client.username_pw_set(identity.mqtt_username, identity.mqtt_password)
        if tls:
            self._client.tls_set_context(tls_context(settings))
        self._client.on_connect = self._handle_connect
        self._client.on_message = self._handle_message
        self._backoff = Backoff(settings.backoff_min_s, settings.backoff_max_s)
        self._lock = threading.RLock()
        self._inflight: OrderedDict[int, float] = OrderedDict()
        self._cursor = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = LinkState.DISCONNECTED
        self.online = threading.Event()
        self.connections = 0
        self._pending_switch: tuple[int, Identity, RobotSigner] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self._thread.start()

    def drain(self, timeout_s: float) -> bool:
        """Before a clean stop: send what is stored and wait, at most `timeout_s`, for the cloud
        to acknowledge it, so that a stop leaves nothing to resend. True when all was acked."""
        deadline = time.monotonic() + timeout_s
        while self.state == LinkState.ONLINE and time.monotonic() < deadline:
            if self._outbox.stats().pending_messages == 0:
                return True
            self.pump()
            time.sleep(0.05)
        return self._outbox.stats().pending_messages == 0

    def stop(self, timeout_s: float = 5.0) -> None:
        """Say OFFLINE (a clean goodbye replaces the last will), disconnect, join the thread."""
        if self.state == LinkState.ONLINE:
            info = self._client.publish(
                self.topics[TopicKind.STATUS], encode(self._last_will(), self._signer), 1, True
            )
            info.wait_for_publish(timeout_s)
        self._stop.set()
        self._client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.state = LinkState.STOPPED

    def switch_after_ack(self, seq: int, identity: Identity, signer: RobotSigner) -> None:
        """After a key rotation announced at `seq`: keep this connection, its account and its
        status key until the cloud acknowledges the announcement (until then a status signed
        with the new key could not be verified), then sign statuses with `signer` and connect
        with the identity's new account. If the old account is refused meanwhile (the cloud
        settled the rotation first), switch at once."""
        with self._lock:
            self._pending_switch = (seq, identity, signer)

    def _switch_now(self) -> None:
        with self._lock:
            pending, self._pending_switch = self._pending_switch, None
            if pending is None:
                return
            _, identity, signer = pending
            self._signer = signer
            self._client.username_pw_set(identity.mqtt_username, identity.mqtt_password)
        logger.info("switching to the rotated broker account")
        self._client.disconnect()  # clean: the broker does not publish the old will

    def _connect(self, first: bool) -> None:
        self._on_connecting()
        will = encode(self._last_will(), self._signer)
        self._client.will_set(self.topics[TopicKind.STATUS], will, qos=1, retain=True)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        if first:
            self._client.connect(
                self._host,
                self._port,
                keepalive=self._settings.keepalive_s,
                clean_start=False,
                properties=properties,
            )
        else:
            self._client.reconnect()

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            self.state = LinkState.CONNECTING
            try:
                self._connect(first)
                first = False
            except (OSError, mqtt.WebsocketConnectionError) as exc:
                logger.debug("broker unreachable: %s", exc)
            else:
                while not self._stop.is_set():
                    if self._client.loop(timeout=0.5) != mqtt.MQTT_ERR_SUCCESS:
                        break
                    self._check_ack_timeout()
            self._lost()
            if not self._stop.is_set():
                self._stop.wait(self._backoff.next_delay())

    def _lost(self) -> None:
        with self._lock:
            if self.state == LinkState.ONLINE:
                if self._stop.is_set():
                    logger.info("disconnected from the broker (stopping)")
                else:
                    logger.info("broker connection lost")
            self.state = LinkState.DISCONNECTED
            self.online.clear()

    # ------------------------------------------------------------------ callbacks (network thread)

    def _handle_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        if reason.is_failure:
            logger.warning("broker refused the connection: %s", reason)
            if self._pending_switch is not None and reason.value in NOT_AUTHORIZED:
                self._switch_now()  # the old account is gone: use the rotated one
            return
        self._backoff.reset()
        client.publish(self.topics[TopicKind.STATUS], encode(self._birth(), self._signer), 1, True)
        client.subscribe([(self.topics[TopicKind.CONFIG], 1), (self.topics[TopicKind.ACK], 1)])
        with self._lock:
            self.state = LinkState.ONLINE
            self.connections += 1
            self._rewind()
        self.online.set()
        logger.info("online at %s:%d", self._host, self._port)
        self.pump()

    def _handle_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.topics[TopicKind.CONFIG]:
            self._on_config(bytes(message.payload))
            return
        try:
            decoded = decode(message.payload, topic=Topic.parse(message.topic), allow_json=False)
        except ProtocolError as exc:
            logger.warning("ignoring a bad ack: %s", exc)
            return
        if isinstance(decoded.message, Ack):
            self.acknowledge(decoded.message)

    # ------------------------------------------------------------------ sending

    def acknowledge(self, ack: Ack) -> None:
        self._outbox.acknowledge(ack.committed)
        pending = self._pending_switch
        if pending is not None and ack.covers(pending[0]):
            self._switch_now()
        with self._lock:
            for seq in [s for s in self._inflight if ack.covers(s)]:
                del self._inflight[seq]
        self.pump()

    def _rewind(self) -> None:
        """Send again from the oldest unacknowledged message."""
        self._inflight.clear()
        first = self._outbox.first_pending_seq()
        self._cursor = -1 if first is None else first - 1

    def _check_ack_timeout(self) -> None:
        with self._lock:
            if not self._inflight:
                return
            oldest = next(iter(self._inflight.values()))
            if time.monotonic() - oldest < self._settings.ack_timeout_s:
                return
            logger.info("no ack for %.0f s: sending the unacknowledged messages again",
                        self._settings.ack_timeout_s)  # fmt: skip
            self._rewind()
        self.pump()

    def pump(self) -> None:
        """Fill the in-flight window from the outbox. Safe from any thread."""
        with self._lock:
            if self.state != LinkState.ONLINE:
                return
            room = self._settings.inflight_window - len(self._inflight)
            if room <= 0:
                return
            for stored in self._outbox.pending(self._cursor, room):
                kind = (
                    TopicKind.TELEMETRY
                    if stored.kind == MessageKind.TELEMETRY
                    else TopicKind.EVENTS
                )
                self._client.publish(self.topics[kind], stored.payload, qos=1)
                self._inflight[stored.seq] = time.monotonic()
                self._cursor = stored.seq
