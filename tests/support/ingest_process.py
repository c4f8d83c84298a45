"""`robocover ingest` as a real process, and robots as real MQTT clients, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from database.settings import CloudSettings
from firmware_protocol import Ack, TopicKind, decode
from tests.support.broker import MosquittoBroker, free_port
from tests.support.fleet import SimRobot

BIN = Path(sys.executable).parent


@dataclass
class IngestProcess:
    """One `robocover ingest` process with its own client id (and so its own broker session)."""

    database: CloudSettings
    broker: MosquittoBroker
    client_id: str = field(default_factory=lambda: f"ingest-{uuid.uuid4().hex[:8]}")
    http_port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        creds = self.broker.ingest_credentials(self.client_id)
        return {
            **os.environ,
            "ROBOCOVER_DATABASE_URL": self.database.libpq_url,
            "ROBOCOVER_MQTT_URL": self.broker.url,
            "ROBOCOVER_MQTT_USERNAME": creds.username,
            "ROBOCOVER_MQTT_PASSWORD": creds.password,
            "ROBOCOVER_MQTT_CLIENT_ID": self.client_id,
            "ROBOCOVER_HTTP_PORT": str(self.http_port),
            "ROBOCOVER_LOG_FORMAT": "json",
            "ROBOCOVER_FLUSH_INTERVAL_S": "0.05",
            **self.extra_env,
        }

    def start(self) -> None:
        command = [str(BIN / "robocover"), "ingest"]
        if self.log_path is None:
            self.process = subprocess.Popen(command, env=self.env(), stderr=subprocess.DEVNULL)
        else:
            with self.log_path.open("ab") as log:  # the child keeps its own descriptor
                self.process = subprocess.Popen(command, env=self.env(), stdout=log, stderr=log)
        self.wait_healthy()

    def health(self) -> tuple[int, dict[str, object]]:
        url = f"http://127.0.0.1:{self.http_port}/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.http_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            text: str = response.read().decode()
            return text

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            assert self.process.poll() is None, "ingest exited"
            try:
                if self.health()[1].get("broker_connected"):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError("the ingest did not connect to the broker")

    def retire(self) -> None:
        """End this process's broker session, as an operator removing it would."""
        subprocess.run(
            [str(BIN / "robocover"), "ingest", "--retire"],
            env={**self.env(), "ROBOCOVER_HTTP_PORT": "0"},
            check=True,
            capture_output=True,
            timeout=60,
        )

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self.process = None
        return code


class RobotLink:
    """A robot's MQTT connection: publishes its payloads, collects the cloud's commit acks,
    and resends what is not acknowledged, as the agent's outbox does."""

    def __init__(self, robot: SimRobot, broker: MosquittoBroker) -> None:
        self.robot = robot
        self.acked: set[int] = set()
        self.sent: dict[int, tuple[str, bytes]] = {}
        self.first_sent_at: dict[int, float] = {}
        self.acked_at: dict[int, float] = {}
        self._lock = threading.Lock()
        username, password = broker.add_robot(robot.tenant, robot.robot_id)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"robot-{robot.robot_id}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", broker.port, clean_start=False, properties=properties)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_args: object) -> None:
        client.subscribe(self.robot.topic(TopicKind.ACK), qos=1)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        ack = decode(bytes(message.payload)).message
        assert isinstance(ack, Ack)
        with self._lock:
            now = time.monotonic()
            for committed in ack.committed:
                for seq in range(committed.first, committed.last + 1):
                    if seq in self.sent and seq not in self.acked:
                        self.acked.add(seq)
                        self.acked_at[seq] = now

    def publish(self, kind: TopicKind, payload: bytes) -> None:
        link = decode(payload).link
        topic = self.robot.topic(kind)
        if link is not None:
            with self._lock:
                self.sent[link.seq] = (topic, payload)
                self.first_sent_at.setdefault(link.seq, time.monotonic())
        self.client.publish(topic, payload, qos=1)

    def unacked(self) -> list[int]:
        with self._lock:
            return sorted(set(self.sent) - self.acked)

    def resend_unacked(self) -> int:
        pending = self.unacked()
        for seq in pending:
            topic, payload = self.sent[seq]
            self.client.publish(topic, payload, qos=1)
        return len(pending)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def eventually(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    detail: Callable[[], str] | None = None,
) -> None:
    """Wait for a condition that other processes make true (not a timing assertion: the
    timeout only bounds a hang). `detail` says what the state was when it did not come."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            state = "" if detail is None else f"\n{detail()}"
            raise TimeoutError(f"still not true after {timeout} s: {what}{state}")
        time.sleep(0.1)


def wait_all_acked(links: list[RobotLink], timeout: float, resend_every: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    next_resend = time.monotonic() + resend_every
    while time.monotonic() < deadline:
        if not any(link.unacked() for link in links):
            return
        if time.monotonic() >= next_resend:
            for link in links:
                link.resend_unacked()
            next_resend = time.monotonic() + resend_every
        time.sleep(0.1)
    missing = {str(link.robot.robot_id)[:8]: link.unacked()[:10] for link in links}
    raise TimeoutError(f"not acknowledged after {timeout} s: {missing}")
