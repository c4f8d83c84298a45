"""Request and response bodies of the tenants endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloud_api.conventions.etags import weak_etag
from database.models import Tenant, TenantStatus

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
"""As the database's CHECK: the slug is part of the robots' MQTT topics."""

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    status: TenantStatus
    created_at: datetime


def etag_of(tenant: Tenant) -> str:
    return weak_etag(TenantOut.model_validate(tenant))


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug = Field(description="Lower-case letters, digits and '-', 1 to 32; never changes.")
    name: Name


class TenantUpdate(BaseModel):
    """The fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    status: TenantStatus | None = None
