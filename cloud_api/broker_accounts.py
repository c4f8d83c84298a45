"""Broker accounts through Mosquitto's dynamic security plugin, at run time.

The cloud (enrollment, credential lifecycle) and the test suite's brokers use this one code
path: an admin client sends commands to ``$CONTROL/dynamic-security/v1`` and waits, boundedly,
for the broker's answer. Each robot gets a client (its MQTT user name and a random password,
never stored by the cloud) bound to the client id ``robot-<id>``, and a role of its own that lets
it publish only on its own telemetry, events and status topics and subscribe only to its own
config and ack topics. During a credential rotation a robot has two clients, both bound to that
one client id, so either password works and neither can take another account's session.

The admin account is bound to one client id too: two admin connections at once (two API
processes enrolling) take the session from each other, and each command is then sent again
(every command here is idempotent).
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from cloud_api.errors import ServiceUnavailableError
from cloud_api.settings import ApiSettings
from firmware_protocol import Topic, TopicKind

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
ALREADY_EXISTS = ("Client already exists", "Role already exists")
ADMIN_CLIENT_ID = "robocover-admin"
INGEST_ROLE = "cloud-ingest"
ATTEMPTS = 8


class BrokerAccountError(RuntimeError):
    """The broker refused a command, or did not answer in time."""


@dataclass(frozen=True, slots=True)
class MqttCredentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"MqttCredentials(username={self.username!r}, password='**********')"


def robot_username(robot_id: uuid.UUID, rotation: int | None = None) -> str:
    """A robot's broker user name; a rotation's new account is suffixed with its id."""
    base = f"robot-{robot_id}"
    return base if rotation is None else f"{base}-r{rotation}"


def robot_client_id(robot_id: uuid.UUID) -> str:
    """The one client id every account of the robot is bound to."""
    return f"robot-{robot_id}"


def robot_role(robot_id: uuid.UUID) -> str:
    return f"robot-{robot_id}"


def robot_acls(tenant: str, robot_id: uuid.UUID) -> list[dict[str, Any]]:
    """A robot's whole permission set: its own three outgoing topics and two incoming ones."""
    topic = {kind: str(Topic(tenant, str(robot_id), kind)) for kind in TopicKind}
    acls: list[dict[str, Any]] = [
        {"acltype": "publishClientSend", "topic": topic[kind], "allow": True}
        for kind in (TopicKind.TELEMETRY, TopicKind.EVENTS, TopicKind.STATUS)
    ]
    for kind in (TopicKind.CONFIG, TopicKind.ACK):
        acls.append({"acltype": "subscribeLiteral", "topic": topic[kind], "allow": True})
        acls.append({"acltype": "publishClientReceive", "topic": topic[kind], "allow": True})
    return acls


class DynsecAdmin:
    """A short-lived admin connection: ``with DynsecAdmin(...) as admin: admin.ensure_robot()``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        client_id: str = ADMIN_CLIENT_ID,
        timeout_s: float = 10.0,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._host, self._port, self._timeout = host, port, timeout_s
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.on_message = self._on_message
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._ready = threading.Event()
        self._lost = threading.Event()
        self._connect_error: str | None = None
        self._answer = threading.Event()
        self._responses: list[dict[str, Any]] = []
        self._awaited = ""  # the correlation data of the request being answered
        self._lock = threading.Lock()

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        if reason.is_failure:
            self._connect_error = str(reason)
            self._ready.set()
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_subscribe(self, *_args: object) -> None:
        self._ready.set()

    def _on_disconnect(self, *_args: object) -> None:
        self._ready.clear()
        self._lost.set()  # paho's loop reconnects by itself

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        """Every admin connection gets every response on the response topic, and the admin
        account's connections take over each other: only the answer to this connection's own
        request (its correlation data, which the plugin echoes per command) is taken."""
        try:
            responses = list(json.loads(message.payload).get("responses", []))
        except (ValueError, AttributeError):
            return
        if responses and all(r.get("correlationData") == self._awaited for r in responses):
            self._responses = responses
            self._answer.set()

    def __enter__(self) -> Self:
        try:
            self._client.connect(self._host, self._port, keepalive=30)
        except OSError as exc:
            raise BrokerAccountError(f"broker {self._host}:{self._port}: {exc}") from exc
        self._client.loop_start()
        if not self._ready.wait(self._timeout) or self._connect_error is not None:
            self.__exit__(None, None, None)
            raise BrokerAccountError(
                f"admin connection refused: {self._connect_error or 'timeout'}"
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def execute(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send commands as one request; return the broker's per-command responses. A request
        whose connection was taken over before the answer came is sent again."""
        with self._lock:
            for _ in range(ATTEMPTS):
                if not self._ready.wait(self._timeout):
                    break
                self._answer.clear()
                self._lost.clear()
                self._awaited = secrets.token_hex(16)  # a retry is a request of its own
                stamped = [{**command, "correlationData": self._awaited} for command in commands]
                payload = json.dumps({"commands": stamped})
                self._client.publish(CONTROL_TOPIC, payload, qos=1)
                if self._wait_answer():
                    return self._responses
                time.sleep(random.uniform(0.05, 0.5))  # noqa: S311 - jitter between admins
            raise BrokerAccountError("the broker did not answer the dynamic-security command")

    def _wait_answer(self) -> bool:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._answer.wait(0.05):
                return True
            if self._lost.is_set():
                return False
        return False

    def _check(self, responses: list[dict[str, Any]], tolerated: tuple[str, ...] = ()) -> None:
        for response in responses:
            error = response.get("error")
            if error and error not in tolerated:
                raise BrokerAccountError(f"{response.get('command')}: {error}")

    def ensure_role(self, rolename: str, acls: list[dict[str, Any]]) -> None:
        """Create the role with exactly these ACLs (idempotent: an existing one is refreshed)."""
        responses = self.execute([{"command": "createRole", "rolename": rolename, "acls": acls}])
        if responses and responses[0].get("error") == "Role already exists":
            role = self.execute([{"command": "getRole", "rolename": rolename}])
            current = role[0].get("data", {}).get("role", {}).get("acls", [])
            self._check(
                self.execute(
                    [
                        {"command": "removeRoleACL", "rolename": rolename, **_spec(acl)}
                        for acl in current
                    ]
                    + [{"command": "addRoleACL", "rolename": rolename, **acl} for acl in acls]
                )
            )
            return
        self._check(responses)

    def ensure_client(self, username: str, password: str, rolename: str, client_id: str) -> None:
        """Create the client, bound to `client_id`, or give an existing one this password,
        binding and role."""
        responses = self.execute(
            [
                {
                    "command": "createClient",
                    "username": username,
                    "password": password,
                    "clientid": client_id,
                    "roles": [{"rolename": rolename}],
                }
            ]
        )
        if responses and responses[0].get("error") == "Client already exists":
            client = self.execute([{"command": "getClient", "username": username}])
            roles = client[0].get("data", {}).get("client", {}).get("roles", [])
            commands: list[dict[str, Any]] = [
                {"command": "setClientPassword", "username": username, "password": password},
                {"command": "setClientId", "username": username, "clientid": client_id},
                {"command": "enableClient", "username": username},
            ]
            if rolename not in {role.get("rolename") for role in roles}:
                commands.append(
                    {"command": "addClientRole", "username": username, "rolename": rolename}
                )
            self._check(self.execute(commands))
            return
        self._check(responses)

    def ensure_robot(
        self, tenant: str, robot_id: uuid.UUID, rotation: int | None = None
    ) -> MqttCredentials:
        """An account of the robot with a fresh random password (re-enrolling replaces it); a
        rotation's account sits beside the robot's current one."""
        credentials = MqttCredentials(robot_username(robot_id, rotation), secrets.token_urlsafe(32))
        self.ensure_role(robot_role(robot_id), robot_acls(tenant, robot_id))
        self.ensure_client(
            credentials.username,
            credentials.password,
            robot_role(robot_id),
            robot_client_id(robot_id),
        )
        return credentials

    def ensure_ingest(self, username: str) -> MqttCredentials:
        """An ingest process's own account (role cloud-ingest), bound to its user name as
        client id; a fresh password, shown once."""
        credentials = MqttCredentials(username, secrets.token_urlsafe(32))
        self.ensure_client(username, credentials.password, INGEST_ROLE, username)
        return credentials

    def set_enabled(self, usernames: list[str], *, enabled: bool) -> None:
        """Enable or disable accounts. Disabling ends their connections at once (the broker
        kicks a disabled client) and refuses new ones."""
        command = "enableClient" if enabled else "disableClient"
        self._check(self.execute([{"command": command, "username": u} for u in usernames]))

    def delete_clients(self, usernames: list[str]) -> None:
        """Delete accounts (their connections end at once); one already gone is no error."""
        responses = self.execute([{"command": "deleteClient", "username": u} for u in usernames])
        self._check(responses, tolerated=("Client not found",))

    def delete_roles(self, rolenames: list[str]) -> None:
        """Delete roles (after their clients); one already gone is no error."""
        responses = self.execute([{"command": "deleteRole", "rolename": r} for r in rolenames])
        self._check(responses, tolerated=("Role not found",))


class BrokerAccounts:
    """Robot accounts through the broker's dynamic security plugin, one admin connection each."""

    def __init__(self, settings: ApiSettings) -> None:
        self._settings = settings

    def ensure_robot(
        self, tenant: str, robot_id: uuid.UUID, rotation: int | None = None
    ) -> MqttCredentials:
        settings = self._settings
        if settings.mqtt_admin_password is None:
            raise ServiceUnavailableError("no broker admin password is configured")
        with DynsecAdmin(
            host=settings.mqtt_url.host or "127.0.0.1",
            port=settings.mqtt_url.port or 1883,
            username=settings.mqtt_admin_username,
            password=settings.mqtt_admin_password.get_secret_value(),
        ) as admin:
            return admin.ensure_robot(tenant, robot_id, rotation)


def _spec(acl: dict[str, Any]) -> dict[str, Any]:
    return {"acltype": acl["acltype"], "topic": acl["topic"]}
