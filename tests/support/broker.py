"""Real Mosquitto brokers for the tests, started from the same configuration template as the
project's own broker (scripts/mosquitto.conf.template), each on a free port with its own storage.

Like the project's broker they run the dynamic security plugin with anonymous access off: the
first start writes the admin, first ingest and cloud accounts (scripts/dynsec_init.py, as
scripts/services-up.sh does), and `add_robot` creates a robot's account through the broker's
control topic with the cloud's own code (cloud_api/broker_accounts.py). Every
account is bound to one client id: a test process connects with the id of the account it uses.
"""

from __future__ import annotations

import getpass
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud_api.broker_accounts import DynsecAdmin, MqttCredentials
from tests.support.tls import TlsFiles

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = PROJECT / "scripts" / "mosquitto.conf.template"
DYNSEC_INIT = PROJECT / "scripts" / "dynsec_init.py"
ADMIN_USER = "admin"
INGEST_USER = "robocover-ingest-1"
CLOUD_USER = "robocover-cloud"
STANDIN_ROLE = "test-cloud-standin"
STANDIN_ACLS = [
    {"acltype": acltype, "topic": topic, "allow": True}
    for topic in ("rc/v1/#", "robocover/health/#", "$share/#")
    for acltype in ("publishClientSend", "publishClientReceive", "subscribePattern")
]
"""Test stand-ins for the whole cloud (one process that reads robots' traffic and sends configs
and acks): what the cloud's accounts may do, together, in one test-only role."""


def dynsec_plugin() -> str:
    found = sorted(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so"))
    if not found:
        raise FileNotFoundError("mosquitto_dynamic_security.so (package mosquitto) is missing")
    return found[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class MosquittoBroker:
    """One mosquitto process; stop() and start() again keep its port, accounts and storage."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    tls: TlsFiles | None = None
    """When set, a second listener speaks MQTT over TLS on `tls_port` with these server files."""
    tls_port: int = field(default_factory=free_port)
    _accounts: dict[str, MqttCredentials] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "mosquitto.log"

    @property
    def dynsec_file(self) -> Path:
        return self.workdir / "data" / "dynamic-security.json"

    def _secret(self, name: str) -> str:
        path = self.workdir / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def admin_credentials(self) -> MqttCredentials:
        return MqttCredentials(ADMIN_USER, self._secret("mqtt_admin_password"))

    @property
    def cloud_credentials(self) -> MqttCredentials:
        """The cloud's service account (configs, the health probe), bound to its user name."""
        return MqttCredentials(CLOUD_USER, self._secret("mqtt_cloud_password"))

    def ingest_credentials(self, client_id: str = INGEST_USER) -> MqttCredentials:
        """An ingest process's own account, bound to `client_id` (made once per id)."""
        if client_id == INGEST_USER:
            return MqttCredentials(INGEST_USER, self._secret("mqtt_ingest_password"))
        if client_id not in self._accounts:
            with self.admin() as admin:
                self._accounts[client_id] = admin.ensure_ingest(client_id)
        return self._accounts[client_id]

    def standin_credentials(self, client_id: str) -> MqttCredentials:
        """A test stand-in for the whole cloud (STANDIN_ROLE), bound to `client_id`."""
        key = f"standin:{client_id}"
        if key not in self._accounts:
            password = secrets.token_urlsafe(24)
            with self.admin() as admin:
                admin.ensure_role(STANDIN_ROLE, STANDIN_ACLS)
                admin.ensure_client(client_id, password, STANDIN_ROLE, client_id)
            self._accounts[key] = MqttCredentials(client_id, password)
        return self._accounts[key]

    def admin(self) -> DynsecAdmin:
        creds = self.admin_credentials
        return DynsecAdmin(
            host="127.0.0.1", port=self.port, username=creds.username, password=creds.password
        )

    def add_robot(self, tenant: str, robot_id: uuid.UUID) -> tuple[str, str]:
        """A robot's account and role, created through the running broker as enrollment does."""
        with self.admin() as admin:
            creds = admin.ensure_robot(tenant, robot_id)
        return creds.username, creds.password

    def robot_connects(self, robot_id: uuid.UUID, username: str, password: str) -> bool:
        """Whether the broker lets this robot's account connect now, as the robot does (its
        client id, MQTT 5)."""
        result: list[bool] = []
        done = threading.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"robot-{robot_id}", protocol=mqtt.MQTTv5
        )
        client.username_pw_set(username, password)

        def on_connect(*args: object) -> None:
            result.append(not args[3].is_failure)  # type: ignore[attr-defined]
            done.set()

        client.on_connect = on_connect
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        done.wait(10)
        client.disconnect()
        client.loop_stop()
        return bool(result and result[0])

    def render_config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        user = getpass.getuser()
        text = (
            TEMPLATE.read_text()
            .replace("@PID_FILE@", str(self.workdir / "mosquitto.pid"))
            .replace("@USER@", user)
            .replace("@PORT@", str(self.port))
            .replace("@DATA_DIR@", str(data))
            .replace("@LOG_FILE@", str(self.log_file))
            .replace("@DYNSEC_PLUGIN@", dynsec_plugin())
            .replace("@DYNSEC_FILE@", str(self.dynsec_file))
        )
        if self.tls is not None:
            text += (
                f"\nlistener {self.tls_port} 127.0.0.1\nprotocol mqtt\n"
                f"cafile {self.tls.ca_file}\ncertfile {self.tls.cert_file}\n"
                f"keyfile {self.tls.key_file}\ntls_version tlsv1.2\n"
            )
        path = self.workdir / "mosquitto.conf"
        path.write_text(text)
        return path

    def _init_accounts(self) -> None:
        for name in ("mqtt_admin_password", "mqtt_ingest_password", "mqtt_cloud_password"):
            self._secret(name)  # written once
        secrets_dir = self.workdir / "secrets"
        subprocess.run(
            [
                sys.executable,
                str(DYNSEC_INIT),
                "--file",
                str(self.dynsec_file),
                "--admin-username",
                ADMIN_USER,
                "--admin-password-file",
                str(secrets_dir / "mqtt_admin_password"),
                "--ingest-username",
                INGEST_USER,
                "--ingest-password-file",
                str(secrets_dir / "mqtt_ingest_password"),
                "--cloud-username",
                CLOUD_USER,
                "--cloud-password-file",
                str(secrets_dir / "mqtt_cloud_password"),
            ],
            check=True,
        )

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        config = self.render_config()
        self._init_accounts()
        self.process = subprocess.Popen(
            [exe, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        if self.tls is not None:
            wait_for_port(self.tls_port)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM lets the broker save its sessions; SIGKILL does not."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=10)
        self.process = None
