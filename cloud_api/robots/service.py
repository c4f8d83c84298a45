"""A robot's standing and credentials: suspend, revoke, reinstate, rotate.

The rules live here and never commit; the caller (the `robocover robots` commands, the API
next) owns the transaction and runs the returned broker changes after the commit, so the
broker follows the database: a suspended or revoked robot's accounts are disabled and their
connections ended at once; reinstating enables them again. What a robot sends meanwhile stays
in its outbox (it cannot connect), or, if it was already queued at the broker, is
dead-lettered by the ingest as robot_suspended / robot_revoked without being acknowledged to
the robot, which sends it again once reinstated. Nothing is silently lost.

A rotation (docs/protocol.md section 12) makes the robot's next broker account at once, beside
its current one and bound to the same client id, and asks the robot, by a retained config
holding the new account sealed to its key, to make a new signing key. The ingest confirms the
rotation when the robot's KEY_ROTATED message takes its place in the chain; `settle_rotations`
then deletes the old account. An unanswered rotation stays pending (the robot acts on it
whenever it comes back); only revoking the robot cancels it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from cloud_api.broker_accounts import MqttCredentials
from cloud_api.errors import ConflictError, NotFoundError
from cloud_api.robots import repository
from database.models import CredentialRotation, Robot, RobotStatus, RotationState
from firmware_protocol import Config, seal_credentials


class RobotBroker(Protocol):
    def ensure_robot(
        self, tenant: str, robot_id: uuid.UUID, rotation: int | None = None
    ) -> MqttCredentials: ...


class RobotNotFoundError(NotFoundError):
    pass


class StandingError(ConflictError):
    """The robot's standing does not allow this (its allowed moves are said)."""


class RotationPendingError(ConflictError):
    pass


ALLOWED: dict[str, frozenset[str]] = {
    "suspend": frozenset({RobotStatus.ACTIVE}),
    "revoke": frozenset({RobotStatus.ACTIVE, RobotStatus.SUSPENDED, RobotStatus.PENDING}),
    "reinstate": frozenset({RobotStatus.SUSPENDED}),
    "rotate": frozenset({RobotStatus.ACTIVE}),
}
"""From which standing each move is allowed. Revoked is final: the robot is enrolled anew (a new
record, a new key, a new chain) if it ever comes back."""


@dataclass(slots=True)
class BrokerChanges:
    """What the broker must do once the transaction commits."""

    disable: list[str] = field(default_factory=list)
    enable: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    configs: list[tuple[str, uuid.UUID, Config]] = field(default_factory=list)
    """(tenant, robot, config) to publish, retained."""


def _robot(session: Session, robot_id: uuid.UUID, move: str) -> Robot:
    robot = repository.robot_for_update(session, robot_id)
    if robot is None:
        raise RobotNotFoundError(f"no robot {robot_id}")
    if robot.status not in ALLOWED[move]:
        moves = sorted(m for m, allowed in ALLOWED.items() if robot.status in allowed)
        raise StandingError(
            f"a {robot.status} robot cannot be {move}d here; allowed: {', '.join(moves) or 'none'}"
        )
    return robot


def _accounts(session: Session, robot: Robot) -> list[str]:
    """Every broker account the robot has: its current one and a rotation's new one."""
    accounts = [robot.mqtt_username] if robot.mqtt_username else []
    pending = repository.pending_rotation(session, robot.id)
    if pending is not None:
        accounts.append(pending.new_mqtt_username)
    return accounts


def _set_standing(
    session: Session, robot: Robot, status: RobotStatus, *, actor: str, reason: str, now: datetime
) -> None:
    previous = robot.status
    robot.status = status.value
    robot.status_reason = reason[:200]
    robot.status_changed_at = now
    if status in (RobotStatus.SUSPENDED, RobotStatus.REVOKED):
        # The broker ends its connection without publishing its will (a kicked client), and
        # whatever it says meanwhile is refused: the robot is offline from now on.
        robot.online = False
    repository.record_action(
        session,
        robot.id,
        actor=actor,
        action=status.value if status != RobotStatus.ACTIVE else "reinstated",
        reason=reason,
        detail={"from": previous},
    )


def suspend(
    session: Session, *, robot_id: uuid.UUID, actor: str, reason: str, now: datetime
) -> BrokerChanges:
    robot = _robot(session, robot_id, "suspend")
    _set_standing(session, robot, RobotStatus.SUSPENDED, actor=actor, reason=reason, now=now)
    return BrokerChanges(disable=_accounts(session, robot))


def reinstate(
    session: Session, *, robot_id: uuid.UUID, actor: str, reason: str, now: datetime
) -> BrokerChanges:
    robot = _robot(session, robot_id, "reinstate")
    _set_standing(session, robot, RobotStatus.ACTIVE, actor=actor, reason=reason, now=now)
    return BrokerChanges(enable=_accounts(session, robot))


def revoke(
    session: Session, *, robot_id: uuid.UUID, actor: str, reason: str, now: datetime
) -> BrokerChanges:
    """For good: the accounts are disabled, a pending rotation cancelled, the keys retired."""
    robot = _robot(session, robot_id, "revoke")
    changes = BrokerChanges(disable=_accounts(session, robot))
    pending = repository.pending_rotation(session, robot.id)
    if pending is not None:
        pending.state = RotationState.CANCELLED.value
        pending.finished_at = now
        pending.detail = "the robot was revoked"
    repository.retire_keys(session, robot.id, now)
    _set_standing(session, robot, RobotStatus.REVOKED, actor=actor, reason=reason, now=now)
    return changes


@dataclass(frozen=True, slots=True)
class RotationRequest:
    rotation_id: int
    new_username: str
    expires_at: datetime
    changes: BrokerChanges


def request_rotation(
    session: Session,
    broker: RobotBroker,
    *,
    robot_id: uuid.UUID,
    actor: str,
    ttl: timedelta,
    now: datetime,
) -> RotationRequest:
    """Make the robot's next account (now, in the broker: its password is sealed to the robot
    and never stored) and the config that asks the robot to rotate (published after commit)."""
    robot = _robot(session, robot_id, "rotate")
    if repository.pending_rotation(session, robot.id) is not None:
        raise RotationPendingError(f"robot {robot_id} has a rotation under way")
    if robot.signing_public_key is None:  # pragma: no cover - an active robot has a key
        raise StandingError(f"robot {robot_id} has no key to seal to")
    tenant = repository.tenant_slug(session, robot.tenant_id)
    version = int(now.timestamp() * 1e6)  # configs the cloud issues carry their time, in us
    rotation = repository.add_rotation(
        session,
        CredentialRotation(
            robot_id=robot.id,
            requested_by=actor,
            requested_at=now,
            expires_at=now + ttl,
            old_mqtt_username=robot.mqtt_username,
            new_mqtt_username=f"pending-{uuid.uuid4().hex}",
            config_version=version,
        ),
    )
    credentials = broker.ensure_robot(tenant, robot.id, rotation.id)
    rotation.new_mqtt_username = credentials.username
    sealed = seal_credentials(robot.signing_public_key, credentials.username, credentials.password)
    config = Config(
        robot_id=robot.id,
        config_version=version,
        wall_us=version,
        rotation_id=rotation.id,
        rotation_credentials=sealed,
    )
    repository.record_action(
        session,
        robot.id,
        actor=actor,
        action="rotation_requested",
        reason="",
        detail={"rotation_id": rotation.id},
    )
    return RotationRequest(
        rotation.id,
        credentials.username,
        rotation.expires_at,
        BrokerChanges(configs=[(tenant, robot.id, config)]),
    )


def settle_rotations(session: Session, *, now: datetime) -> BrokerChanges:
    """Finish what robots answered: their old account goes, the new one becomes theirs.

    A rotation not answered in time is NOT cancelled: its request stays retained and queued for
    the robot, which acts on it whenever it comes back, onto the account it holds sealed;
    deleting that account would lock the robot out. `expires_at` only ends the time during
    which the ingest treats an unverifiable message as signed with a key still on its way."""
    changes = BrokerChanges()
    for rotation in repository.confirmed_rotations(session):
        robot = session.get_one(Robot, rotation.robot_id)
        if rotation.old_mqtt_username and rotation.old_mqtt_username != rotation.new_mqtt_username:
            changes.delete.append(rotation.old_mqtt_username)
        robot.mqtt_username = rotation.new_mqtt_username
        rotation.state = RotationState.COMPLETED.value
        rotation.finished_at = now
        repository.record_action(
            session,
            robot.id,
            actor="robocover",
            action="rotation_completed",
            reason="",
            detail={"rotation_id": rotation.id},
        )
    return changes
