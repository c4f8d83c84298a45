"""Who uses the insurer API: people (staff and policyholders), their refresh tokens, tenants'
service accounts and their API keys.

Staff (admin, underwriter, claims_adjuster, billing_agent, auditor) belong to no tenant; a
policyholder belongs to exactly one. The database says so itself (``staff_have_no_tenant``), so
no code path can make a staff user bound to a tenant or a policyholder bound to none.

Secrets are never stored: passwords as argon2id hashes (PHC strings), refresh tokens and API
keys as SHA-256 of their random part (cloud_api/identity/opaque_secrets.py says why that is
enough). A refresh token is spent by its use, which issues its successor in the same family;
presenting a spent one again revokes the whole family (someone holds a stolen copy).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class UserRole(enum.StrEnum):
    """The roles a person may hold (a service account's role is implied by what it is)."""

    ADMIN = "admin"
    UNDERWRITER = "underwriter"
    CLAIMS_ADJUSTER = "claims_adjuster"
    BILLING_AGENT = "billing_agent"
    AUDITOR = "auditor"
    POLICYHOLDER = "policyholder"


STAFF_ROLES_SQL = "('admin', 'underwriter', 'claims_adjuster', 'billing_agent', 'auditor')"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN " + STAFF_ROLES_SQL[:-1] + ", 'policyholder')",
            name="role_valid",
        ),
        CheckConstraint(
            f"(role IN {STAFF_ROLES_SQL}) = (tenant_id IS NULL)", name="staff_have_no_tenant"
        ),
        CheckConstraint(
            "email = lower(email) AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'",
            name="email_normalised",
        ),
        CheckConstraint("starts_with(password_hash, '$argon2id$')", name="password_is_argon2id"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )
    password_hash: Mapped[str] = mapped_column(Text)
    password_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    disabled_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="a disabled user cannot sign in; its tokens stop working"
    )
    version: Mapped[int] = mapped_column(
        Integer, server_default="1", comment="bumped on every change: the ETag of the user"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class RefreshToken(Base):
    """One refresh token; the text handed out is ``rcr_<id.hex>.<secret>``."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        CheckConstraint("octet_length(secret_hash) = 32", name="sha256_length"),
        CheckConstraint("expires_at > issued_at", name="expires_after_issue"),
        Index("ix_refresh_tokens_family_id", "family_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(comment="the sign-in this token descends from")
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    spent_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="used once, for its successor"
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class ServiceAccount(Base):
    """A tenant's machine client (a fleet manager's integration), acting with API keys."""

    __tablename__ = "service_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(Base):
    """One API key of a service account: scoped, expiring; ``rck_<id.hex>.<secret>``."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("octet_length(secret_hash) = 32", name="sha256_length"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint("cardinality(scopes) >= 1", name="has_a_scope"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    service_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_accounts.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
