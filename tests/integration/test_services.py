"""The real broker and cache the project sets up behave as the components rely on."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.broker import MosquittoBroker

PROJECT = Path(__file__).resolve().parents[2]


def _client(client_id: str, broker: MosquittoBroker, *, clean_start: bool) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    # The broker authenticates everyone, each account bound to one client id: these tests log
    # in as test stand-ins for the cloud, whose role covers the health-probe topics used here.
    creds = broker.standin_credentials(client_id)
    client.username_pw_set(creds.username, creds.password)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", broker.port, clean_start=clean_start, properties=props)
    return client


def test_broker_queues_qos1_for_a_persistent_session_across_its_own_restart(
    mqtt_broker: MosquittoBroker,
) -> None:
    """What the ingest relies on: messages published while it is away, even across a broker
    restart, are delivered when it comes back with the same session.

    Mosquitto 2.0.11 keeps a session begun with clean start = 1 in memory only: it is gone after a
    restart. A durable subscriber therefore always connects with clean start = 0.
    """
    topic = f"robocover/health/test/{uuid.uuid4().hex}"
    subscriber_id = f"sub-{uuid.uuid4().hex[:8]}"
    sub = _client(subscriber_id, mqtt_broker, clean_start=False)
    sub.loop_start()
    subscribed = threading.Event()
    sub.on_subscribe = lambda *_args: subscribed.set()
    sub.subscribe(topic, qos=1)
    assert subscribed.wait(5)
    sub.disconnect()
    sub.loop_stop()

    count = 3000  # above Mosquitto's default queue limit of 1000
    pub = _client(f"pub-{uuid.uuid4().hex[:8]}", mqtt_broker, clean_start=True)
    pub.loop_start()
    infos = [pub.publish(topic, str(i).encode(), qos=1) for i in range(count)]
    for info in infos:
        info.wait_for_publish(timeout=10)
    assert all(info.is_published() for info in infos)
    pub.disconnect()
    pub.loop_stop()

    mqtt_broker.stop()  # SIGTERM: the broker saves its sessions and queues to disk
    mqtt_broker.start()

    received: list[int] = []
    done = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        received.append(int(message.payload))
        if len(received) == count:
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=subscriber_id, protocol=mqtt.MQTTv5)
    creds = mqtt_broker.standin_credentials(subscriber_id)
    sub.username_pw_set(creds.username, creds.password)
    sub.on_message = on_message
    sub.connect("127.0.0.1", mqtt_broker.port, clean_start=False)
    sub.loop_start()
    # The session survived: the broker did not forget the subscription or the queue.
    assert done.wait(timeout=30), f"received {len(received)} of {count}"
    sub.disconnect()
    sub.loop_stop()
    assert received == list(range(count))


def test_redis_round_trip(redis_client: redis.Redis) -> None:
    redis_client.set("robocover:probe", b"ok", ex=60)
    assert redis_client.get("robocover:probe") == b"ok"
    assert redis_client.ttl("robocover:probe") > 0


@pytest.mark.parametrize("qos", [0, 1])
def test_subscriber_receives_what_is_published(mqtt_broker: MosquittoBroker, qos: int) -> None:
    topic = f"robocover/health/test/{uuid.uuid4().hex}"
    got = threading.Event()
    payloads: list[bytes] = []

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        payloads.append(bytes(message.payload))
        got.set()

    sub = _client(f"s-{uuid.uuid4().hex[:8]}", mqtt_broker, clean_start=True)
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *_args: subscribed.set()
    sub.loop_start()
    sub.subscribe(topic, qos=qos)
    assert subscribed.wait(5)
    pub = _client(f"p-{uuid.uuid4().hex[:8]}", mqtt_broker, clean_start=True)
    pub.loop_start()
    pub.publish(topic, b"\x00\x01binary", qos=qos).wait_for_publish(5)
    assert got.wait(5)
    assert payloads == [b"\x00\x01binary"]
    for client in (pub, sub):
        client.disconnect()
        client.loop_stop()


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("apt-get") is None, reason="needs root on Debian"
)
def test_services_setup_runs_quietly_from_a_directory_postgres_cannot_enter(
    tmp_path: Path,
) -> None:
    """From a checkout postgres cannot enter (a clone under /root, a `mktemp -d`), the setup runs
    what it runs as postgres from elsewhere: psql must not say "could not change directory", and
    a second run still says only that all is ready."""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    entered = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(closed)], check=False
    )
    assert entered.returncode != 0, "postgres can enter the directory: the test proves nothing"
    runs = [
        subprocess.run(
            ["bash", str(PROJECT / "scripts" / "services-up.sh")],
            cwd=closed,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "could not change directory" not in run.stdout + run.stderr
    lines = runs[1].stderr.strip().splitlines()
    assert len(lines) == 1, runs[1].stderr
    assert lines[0].startswith("[services] ready:")
    assert runs[1].stdout == ""
