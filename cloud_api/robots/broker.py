"""The broker follows the database: what the robots service decided, applied after commit."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud_api.broker_accounts import (
    BrokerAccountError,
    BrokerAccounts,
    DynsecAdmin,
    MqttCredentials,
)
from cloud_api.robots.service import BrokerChanges
from cloud_api.settings import ApiSettings
from database.settings import CloudSettings
from firmware_protocol import Config, Topic, TopicKind, encode


def apply_changes(
    changes: BrokerChanges, admin: Callable[[], DynsecAdmin], settings: CloudSettings
) -> None:
    """Disable, enable and delete accounts (connections of a disabled or deleted account end
    at once), then publish the configs, retained."""
    if changes.disable or changes.enable or changes.delete:
        with admin() as control:
            if changes.disable:
                control.set_enabled(changes.disable, enabled=False)
            if changes.enable:
                control.set_enabled(changes.enable, enabled=True)
            if changes.delete:
                control.delete_clients(changes.delete)
    if changes.configs:
        publish_configs(changes.configs, settings)


def publish_configs(
    configs: list[tuple[str, uuid.UUID, Config]], settings: CloudSettings, timeout_s: float = 10
) -> None:
    """Publish retained configs with the cloud's service account and wait for the broker's
    acks (QoS 1): when this returns, a robot that connects gets them."""
    connected = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=mqtt.MQTTv5
    )
    if settings.mqtt_username:
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        client.username_pw_set(settings.mqtt_username, password)
    client.on_connect = lambda *_args: connected.set()
    host, port = settings.mqtt_url.host or "127.0.0.1", settings.mqtt_url.port or 1883
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise BrokerAccountError(f"broker {host}:{port}: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(timeout_s) or not client.is_connected():
            raise BrokerAccountError("the broker refused the cloud's service account")
        deadline = time.monotonic() + timeout_s
        for tenant, robot_id, config in configs:
            topic = str(Topic(tenant, str(robot_id), TopicKind.CONFIG))
            info = client.publish(topic, encode(config), qos=1, retain=True)
            info.wait_for_publish(max(deadline - time.monotonic(), 0.1))
            if not info.is_published():
                raise BrokerAccountError(f"the config for robot {robot_id} was not acknowledged")
    finally:
        client.disconnect()
        client.loop_stop()


class MosquittoRobotBroker:
    """The broker as the robots API uses it: make a rotation's account now (``ensure_robot``),
    and have the broker follow the database after the commit (``apply``)."""

    def __init__(self, settings: ApiSettings) -> None:
        self._settings = settings
        self._accounts = BrokerAccounts(settings)

    def ensure_robot(
        self, tenant: str, robot_id: uuid.UUID, rotation: int | None = None
    ) -> MqttCredentials:
        return self._accounts.ensure_robot(tenant, robot_id, rotation)

    def apply(self, changes: BrokerChanges) -> None:
        settings = self._settings
        if settings.mqtt_admin_password is None:
            raise BrokerAccountError("no broker admin password: the broker cannot follow")
        password = settings.mqtt_admin_password.get_secret_value()

        def admin() -> DynsecAdmin:
            return DynsecAdmin(
                host=settings.mqtt_url.host or "127.0.0.1",
                port=settings.mqtt_url.port or 1883,
                username=settings.mqtt_admin_username,
                password=password,
            )

        apply_changes(changes, admin, settings)
