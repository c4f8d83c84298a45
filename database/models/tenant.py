"""A tenant: an insured organisation operating a fleet of robots."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (
        # The slug appears in MQTT topics: keep it to a safe, short alphabet.
        CheckConstraint(r"slug ~ '^[a-z0-9][a-z0-9-]{0,31}$'", name="slug_format"),
        CheckConstraint("status IN ('active', 'suspended')", name="status_valid"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), server_default=TenantStatus.ACTIVE.value)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
