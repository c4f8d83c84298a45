"""A robot's credentials over time: its signing keys by chain position, credential rotations,
and the audit of what staff did to a robot (suspend, revoke, reinstate, rotate)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class RobotKey(Base):
    """One signing key of a robot and the part of its chain it signs: seq first_seq onwards,
    up to last_seq (None: the current key). A key announced by a KEY_ROTATED message at seq k
    starts at k + 1; the key before it ends at k."""

    __tablename__ = "robot_keys"
    __table_args__ = (
        CheckConstraint("octet_length(public_key) = 32", name="ed25519_key_length"),
        CheckConstraint("last_seq IS NULL OR first_seq <= last_seq + 1", name="range_ordered"),
        Index(
            "ix_robot_keys_current",
            "robot_id",
            unique=True,
            postgresql_where=text("last_seq IS NULL"),
        ),
    )

    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    public_key: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    rotation_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RotationState(enum.StrEnum):
    REQUESTED = "requested"
    """The config asking for it is published; the new broker account exists beside the old."""
    CONFIRMED = "confirmed"
    """The robot's KEY_ROTATED message arrived: the new key is in force; the old account goes."""
    COMPLETED = "completed"
    """The old broker account is deleted."""
    CANCELLED = "cancelled"
    """Superseded, expired unanswered, or the robot was revoked: the new account is deleted."""


class CredentialRotation(Base):
    """A request that a robot rotate its signing key and broker account. Its id is the config's
    rotation_id; the robot answers with a KEY_ROTATED event whose code is that id."""

    __tablename__ = "credential_rotations"
    __table_args__ = (
        CheckConstraint(
            "state IN ('requested', 'confirmed', 'completed', 'cancelled')", name="state_valid"
        ),
        Index(
            "ix_credential_rotations_pending",
            "robot_id",
            unique=True,
            postgresql_where=text("state IN ('requested', 'confirmed')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), server_default=RotationState.REQUESTED.value)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    old_mqtt_username: Mapped[str | None] = mapped_column(String(128))
    new_mqtt_username: Mapped[str] = mapped_column(String(128), unique=True)
    config_version: Mapped[int] = mapped_column(BigInteger)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_seq: Mapped[int | None] = mapped_column(BigInteger)
    new_public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str] = mapped_column(Text, server_default="")


class RobotAction(Base):
    """The audit of every change staff made to a robot's standing or credentials."""

    __tablename__ = "robot_actions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
