"""A one-time enrollment token: lets one pending robot register its key and get its account."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, LargeBinary, func, text
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class EnrollmentToken(Base):
    __tablename__ = "enrollment_tokens"
    __table_args__ = (CheckConstraint("octet_length(secret_hash) = 32", name="sha256_length"),)

    # The token given out is "{id.hex}.{secret}"; only SHA-256(secret) is kept.
    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    robot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("robots.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="a newer token was issued for the robot"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
