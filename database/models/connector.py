"""The vendor connector's per-robot state: its place in the vendor's feed and the robot's chain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class VendorRelayState(Base):
    __tablename__ = "vendor_relay_state"

    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(512), comment="vendor cursor past acked readings")
    next_seq: Mapped[int] = mapped_column(BigInteger)
    last_digest: Mapped[bytes] = mapped_column(LargeBinary)
    pending: Mapped[list[bytes]] = mapped_column(
        ARRAY(LargeBinary), comment="batches stored before sending, until the cloud acks them"
    )
    pending_cursor: Mapped[str | None] = mapped_column(String(512))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
