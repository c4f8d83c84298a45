"""A robot: one insured machine, its identity, its credentials and its last known state."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class RobotClass(enum.StrEnum):
    """Rating classes of robots: base rates differ by class."""

    INDUSTRIAL_ARM = "industrial_arm"
    COBOT = "cobot"
    MOBILE_ROBOT = "mobile_robot"


class RobotStatus(enum.StrEnum):
    PENDING = "pending"  # registered, not yet enrolled: no key, may not publish
    ACTIVE = "active"  # enrolled: its signed batches are accepted
    SUSPENDED = "suspended"  # paused by staff: broker account disabled, batches to dead letters
    REVOKED = "revoked"  # credentials withdrawn for good


def _enum_check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Robot(Base):
    __tablename__ = "robots"
    __table_args__ = (
        UniqueConstraint("tenant_id", "serial_number"),
        CheckConstraint(_enum_check("robot_class", RobotClass), name="robot_class_valid"),
        CheckConstraint(_enum_check("status", RobotStatus), name="status_valid"),
        CheckConstraint("octet_length(signing_public_key) = 32", name="ed25519_key_length"),
        CheckConstraint("octet_length(chain_head_digest) = 32", name="chain_digest_length"),
        CheckConstraint(
            "status NOT IN ('active') OR signing_public_key IS NOT NULL", name="active_has_key"
        ),
        # The list's prefix search of serial numbers (LIKE 'UR10%'), whatever the collation.
        Index(
            "ix_robots_serial_number_prefix",
            "serial_number",
            postgresql_ops={"serial_number": "text_pattern_ops"},
        ),
    )

    # The id is also the robot's name in its MQTT topics.
    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    serial_number: Mapped[str] = mapped_column(String(64))
    robot_class: Mapped[str] = mapped_column(String(32))
    manufacturer: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), server_default=RobotStatus.PENDING.value)

    # Authentication and tamper evidence: the robot's current Ed25519 public key (the private key
    # never leaves the robot; earlier keys are in robot_keys), its broker user name, and the head
    # of its hash chain as last committed. Suspicions are review cases (review_cases).
    signing_public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    mqtt_username: Mapped[str | None] = mapped_column(String(128), unique=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    chain_head_seq: Mapped[int | None] = mapped_column(BigInteger)
    chain_head_digest: Mapped[bytes | None] = mapped_column(LargeBinary)
    status_reason: Mapped[str | None] = mapped_column(
        String(200), comment="why staff suspended or revoked the robot"
    )
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Presence, from the status topic (birth message and last will).
    online: Mapped[bool] = mapped_column(Boolean, server_default="false")
    presence_reported_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="device time of the status report applied last"
    )
    presence_connection_seq: Mapped[int | None] = mapped_column(
        BigInteger, comment="connection_seq of the status applied last (protocol 1.2)"
    )
    presence_state: Mapped[int | None] = mapped_column(
        SmallInteger, comment="state of the status applied last: 1 online, 2 offline"
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    boot_id: Mapped[uuid.UUID | None]
    firmware_version: Mapped[str | None] = mapped_column(String(64))
    software_version: Mapped[str | None] = mapped_column(String(64))

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
