"""Enrollment rules: one-time tokens issued by staff, redeemed once by the robot for its identity.

A token is ``{id}.{secret}``; only SHA-256(secret) is stored, compared in constant time. Redeeming
it activates the pending robot with its public key and creates the robot's broker account (its
own client and role, see broker_accounts.py). The service never commits: the caller does, and
the broker account is created last, so a refused enrollment leaves nothing behind in the broker.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from cloud_api.broker_accounts import BrokerAccountError, MqttCredentials
from cloud_api.enrollment import repository
from cloud_api.errors import (
    ConflictError,
    GoneError,
    NotAuthenticatedError,
    ServiceUnavailableError,
)
from database.models import RobotClass, RobotStatus


class RobotAccounts(Protocol):
    def ensure_robot(
        self, tenant: str, robot_id: uuid.UUID, rotation: int | None = None
    ) -> MqttCredentials: ...


class InvalidTokenError(NotAuthenticatedError):
    pass


class TokenUsedError(ConflictError):
    pass


class TokenExpiredError(GoneError):
    pass


class TokenVoidedError(GoneError):
    pass


class RobotNotPendingError(ConflictError):
    pass


class KeyInUseError(ConflictError):
    pass


class BrokerUnavailableError(ServiceUnavailableError):
    pass


@dataclass(frozen=True, slots=True)
class IssuedToken:
    robot_id: uuid.UUID
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Enrollment:
    robot_id: uuid.UUID
    tenant: str
    credentials: MqttCredentials


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def issue_token(
    session: Session,
    *,
    tenant: str,
    serial_number: str,
    robot_class: RobotClass,
    manufacturer: str,
    model: str,
    ttl: timedelta,
    now: datetime,
) -> IssuedToken:
    """Register the robot as pending (or reuse its pending record) and issue a token for it."""
    tenant_id = repository.tenant_id_for(session, tenant)
    robot = repository.robot_by_serial(session, tenant_id, serial_number)
    if robot is None:
        robot = repository.add_pending_robot(
            session,
            tenant_id=tenant_id,
            serial_number=serial_number,
            robot_class=robot_class,
            manufacturer=manufacturer,
            model=model,
        )
    elif robot.status != RobotStatus.PENDING:
        raise RobotNotPendingError(f"robot {serial_number} of {tenant} is {robot.status}")
    repository.void_tokens(session, robot.id, now)  # a new token voids the older ones
    secret = secrets.token_urlsafe(32)
    row = repository.add_token(
        session, robot_id=robot.id, secret_hash=_hash(secret), expires_at=now + ttl
    )
    return IssuedToken(robot.id, f"{row.id.hex}.{secret}", row.expires_at)


def enroll(
    session: Session, accounts: RobotAccounts, *, token: str, public_key: bytes, now: datetime
) -> Enrollment:
    token_id_text, _, secret = token.partition(".")
    try:
        token_id = uuid.UUID(hex=token_id_text)
    except ValueError:
        raise InvalidTokenError("the enrollment token is not valid") from None
    row = repository.token_for_update(session, token_id)
    # Compare even when the row is missing, so both failures take the same time.
    expected = row.secret_hash if row is not None else bytes(32)
    if not hmac.compare_digest(expected, _hash(secret)) or row is None:
        raise InvalidTokenError("the enrollment token is not valid")
    if row.consumed_at is not None:
        raise TokenUsedError("the enrollment token was already used")
    if row.voided_at is not None:
        raise TokenVoidedError("a newer enrollment token was issued for this robot")
    if row.expires_at <= now:
        raise TokenExpiredError("the enrollment token has expired")
    robot = repository.robot_for_update(session, row.robot_id)
    if robot.status != RobotStatus.PENDING:
        raise RobotNotPendingError(f"the robot is {robot.status}, not pending")
    if repository.key_in_use(session, public_key):
        raise KeyInUseError("this public key belongs to another robot")
    tenant = repository.tenant_slug(session, robot.tenant_id)
    robot.status = RobotStatus.ACTIVE.value
    robot.signing_public_key = public_key
    robot.enrolled_at = now
    row.consumed_at = now
    try:
        credentials = accounts.ensure_robot(tenant, robot.id)
    except BrokerAccountError as exc:
        raise BrokerUnavailableError(f"the broker could not create the account: {exc}") from exc
    robot.mqtt_username = credentials.username
    repository.add_first_key(session, robot.id, public_key)
    session.flush()
    return Enrollment(robot.id, tenant, credentials)
