"""Products: what an insurer sells a robot fleet, as versioned data.

A product version names its coverages (each priced by a coverage of the rating plan, with its
limit, deductible and annual aggregate in minor units), the premium tax by jurisdiction and the
rules a quote and a policy follow (validity, backdating window, short-rate penalty). The terms
are JSON validated by ``cloud_api.products.schemas.ProductTerms``; a version is a draft until it
is activated, and an active version is never changed: a change is a new version. Quotes and
policies keep the version they were made under.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint(r"code ~ '^[a-z][a-z0-9_]{1,39}$'", name="code_format"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("status IN ('draft', 'active', 'retired')", name="status_valid"),
        CheckConstraint(r"currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint(
            "status = 'draft' OR (activated_at IS NOT NULL AND activated_by IS NOT NULL)",
            name="activated_has_approver",
        ),
        # One active version of a product at a time, whatever races the service loses.
        Index(
            "ix_products_code_active",
            "code",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), server_default=ProductStatus.DRAFT.value)
    currency: Mapped[str] = mapped_column(String(3))
    terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activated_by: Mapped[str | None] = mapped_column(String(100))
