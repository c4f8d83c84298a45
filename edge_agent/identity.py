"""The robot's identity in the agent's state directory, written by `robocover-agent enroll`.

signing_key        32-byte Ed25519 seed, 0600: generated here, never leaves the robot
identity.json      robot id, tenant, MQTT user name and password, 0600
outbox.sqlite3     the outbox (edge_agent/outbox.py)
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from firmware_protocol import RobotSigner

KEY_FILE = "signing_key"
IDENTITY_FILE = "identity.json"
OUTBOX_FILE = "outbox.sqlite3"


class NotEnrolledError(RuntimeError):
    """The state directory holds no identity: run `robocover-agent enroll` first."""


@dataclass(frozen=True, slots=True)
class Identity:
    robot_id: uuid.UUID
    tenant: str
    mqtt_username: str
    mqtt_password: str
    mqtt_client_id: str = ""
    """The client id the broker binds the robot's accounts to (robot-<id> when not given)."""

    def __post_init__(self) -> None:
        if not self.mqtt_client_id:
            object.__setattr__(self, "mqtt_client_id", f"robot-{self.robot_id}")

    def __repr__(self) -> str:
        return f"Identity(robot_id={self.robot_id}, tenant={self.tenant!r}, password='***')"


def write_private(path: Path, data: bytes) -> None:
    """Write a file only the agent's user can read, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)


def load_or_create_signer(state_dir: Path) -> RobotSigner:
    path = state_dir / KEY_FILE
    if path.exists():
        return RobotSigner.from_seed(path.read_bytes())
    seed = os.urandom(32)
    write_private(path, seed)
    return RobotSigner.from_seed(seed)


def load_signer(state_dir: Path) -> RobotSigner:
    path = state_dir / KEY_FILE
    if not path.exists():
        raise NotEnrolledError(f"no signing key in {state_dir}: run `robocover-agent enroll`")
    return RobotSigner.from_seed(path.read_bytes())


def save_identity(state_dir: Path, identity: Identity, *, name: str = IDENTITY_FILE) -> None:
    document = {
        "robot_id": str(identity.robot_id),
        "tenant": identity.tenant,
        "mqtt_username": identity.mqtt_username,
        "mqtt_password": identity.mqtt_password,
        "mqtt_client_id": identity.mqtt_client_id,
    }
    write_private(state_dir / name, json.dumps(document, indent=2).encode())


def load_identity(state_dir: Path) -> Identity:
    path = state_dir / IDENTITY_FILE
    if not path.exists():
        raise NotEnrolledError(f"no identity in {state_dir}: run `robocover-agent enroll`")
    document = json.loads(path.read_text())
    return Identity(
        robot_id=uuid.UUID(document["robot_id"]),
        tenant=document["tenant"],
        mqtt_username=document["mqtt_username"],
        mqtt_password=document["mqtt_password"],
        mqtt_client_id=document.get("mqtt_client_id", ""),
    )
