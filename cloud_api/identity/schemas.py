"""Request and response bodies of the identity endpoints (pydantic v2)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cloud_api.access.actions import Action
from cloud_api.access.roles import Principal, Role
from database.models import UserRole

MAX_KEY_DAYS = 365
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")  # what the database accepts; not reachability
MAX_EMAIL_CHARS = 254


def _email(value: str) -> str:
    email = value.strip().lower()
    if not EMAIL_PATTERN.fullmatch(email):
        raise ValueError("not an email address")
    return email


Email = Annotated[str, Field(min_length=3, max_length=MAX_EMAIL_CHARS), AfterValidator(_email)]
TenantSlug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]


class TokenPair(BaseModel):
    """RFC 6749 5.1: what /v1/auth/token and /v1/auth/refresh answer."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int = Field(description="Seconds the access token is valid for.")
    refresh_token: str = Field(description="Single use: each refresh returns its successor.")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(max_length=256)


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(
        default=None, max_length=256, description="Its whole family is revoked."
    )


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class PrincipalOut(BaseModel):
    id: uuid.UUID
    role: Role
    tenant: str | None
    scopes: list[Action]

    @classmethod
    def of(cls, principal: Principal) -> PrincipalOut:
        return cls(
            id=principal.id,
            role=principal.role,
            tenant=principal.tenant,
            scopes=sorted(principal.scopes),
        )


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: UserRole
    tenant: str | None
    disabled_at: datetime | None
    password_changed_at: datetime
    created_at: datetime
    updated_at: datetime
    version: int


class MeOut(BaseModel):
    principal: PrincipalOut
    user: UserOut | None = Field(description="Null for a service account.")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    full_name: str = Field(min_length=1, max_length=200)
    role: UserRole
    tenant: TenantSlug | None = Field(
        default=None, description="A policyholder's tenant; staff have none."
    )


class UserCreated(UserOut):
    initial_password: str | None = Field(
        description="Generated, shown only in this response; the user changes it at "
        "/v1/auth/password. Null in a replay (a retry with the same Idempotency-Key; "
        "Idempotent-Redacted names it)."
    )


class UserPatch(BaseModel):
    """The fields to change; absent fields stay as they are (``tenant: null`` clears it)."""

    model_config = ConfigDict(extra="forbid")

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: UserRole | None = None
    tenant: TenantSlug | None = None


class ServiceAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")


class ServiceAccountOut(BaseModel):
    id: uuid.UUID
    tenant: str
    name: str
    created_by: uuid.UUID | None
    disabled_at: datetime | None
    created_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[Action] = Field(min_length=1, max_length=len(Action))
    expires_in_days: int = Field(default=90, ge=1, le=MAX_KEY_DAYS)


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    service_account_id: uuid.UUID
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyIssued(ApiKeyOut):
    key: str | None = Field(
        description="rck_...: shown only in this response; only its hash is kept. Null in a "
        "replay (a retry with the same Idempotency-Key; Idempotent-Redacted names it)."
    )
