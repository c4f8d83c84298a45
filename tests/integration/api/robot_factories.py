"""Plain factories of the robots API's tests: rows added through the harness's session (rolled
back with the test), and a recorder of what the broker was asked to do."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from cloud_api.broker_accounts import MqttCredentials, robot_username
from cloud_api.robots.service import BrokerChanges
from database.models import Robot, RobotClass, RobotStatus, Tenant


def add_robot(
    session: Session,
    tenant: Tenant,
    *,
    status: RobotStatus = RobotStatus.ACTIVE,
    robot_class: RobotClass = RobotClass.COBOT,
    serial_number: str | None = None,
    online: bool = False,
    created_at: datetime | None = None,
) -> Robot:
    """A robot of ``tenant``; an enrolled one (not pending) has a key and a broker account."""
    robot_id = uuid.uuid4()
    enrolled = status != RobotStatus.PENDING
    robot = Robot(
        id=robot_id,
        tenant_id=tenant.id,
        serial_number=serial_number or f"SN-{robot_id.hex[:10]}",
        robot_class=robot_class.value,
        manufacturer="Acme",
        model="R1",
        status=status.value,
        signing_public_key=os.urandom(32) if enrolled else None,
        mqtt_username=robot_username(robot_id) if enrolled else None,
        online=online,
    )
    if created_at is not None:
        robot.created_at = created_at
    session.add(robot)
    session.flush()
    return robot


@dataclass
class RecordingBroker:
    """Stands in for the broker's side effects only (the real broker has its own test): what
    the robots API asked of it, in order."""

    applied: list[BrokerChanges] = field(default_factory=list)
    accounts: list[tuple[str, uuid.UUID, int | None]] = field(default_factory=list)

    def ensure_robot(
        self, tenant: str, robot_id: uuid.UUID, rotation: int | None = None
    ) -> MqttCredentials:
        self.accounts.append((tenant, robot_id, rotation))
        return MqttCredentials(robot_username(robot_id, rotation), "recorded-" + uuid.uuid4().hex)

    def apply(self, changes: BrokerChanges) -> None:
        self.applied.append(changes)
