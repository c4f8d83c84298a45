"""Users: creating, changing and disabling them, and reading them as the API shows them.

The rules, never a commit (the request or the command owns the transaction). Every change
records an audit event in the same transaction. A user's version is its ETag: a change must
name the version it changes (If-Match), so two admins editing one user cannot silently
overwrite each other.

The password of a new user is generated here (24 URL-safe characters, 144 random bits) and
shown once to the admin who made the user, never chosen by that admin: no weak or reused
first password, and none typed into a form that might log it. The command line that makes the
first administrator takes one typed twice (or from a file), held to ``password_problem``.

This is the only module of the domain other domains may import.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud_api.access.roles import Principal, Role
from cloud_api.audit import service as audit
from cloud_api.errors import (
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    PreconditionRequiredError,
    UnprocessableError,
)
from cloud_api.identity import passwords, repository
from cloud_api.identity.schemas import EMAIL_PATTERN, MAX_EMAIL_CHARS, UserOut
from database.models import User, UserRole

GENERATED_PASSWORD_BYTES: Final = 18
DISABLE_FIELDS: Final = ("disabled_at", "version")  # what the trail shows of a disable
_ETAG: Final = re.compile(r'(?:W/)?"(\d{1,9})"')


def principal_of(user: User, tenant: str | None) -> Principal:
    """The principal a user acts as: its role, its tenant's slug (None for staff)."""
    return Principal(user.id, Role(user.role), tenant)


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def etag(user: User) -> str:
    return f'W/"{user.version}"'


def expected_version(if_match: str | None) -> int:
    """The version an If-Match header names: 428 without one, 412 for one we never issued."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequiredError('send If-Match with the ETag of the user (W/"<version>")')
    match = _ETAG.fullmatch(if_match.strip())
    if match is None:
        raise PreconditionFailedError(f"If-Match {if_match[:40]!r} names no version of the user")
    return int(match.group(1))


def describe(session: Session, users: Iterable[User]) -> list[UserOut]:
    """The users as the API shows them, with their tenants' slugs (one query for all)."""
    rows = list(users)
    slugs = repository.tenant_slugs(session, {u.tenant_id for u in rows if u.tenant_id})
    return [_out(user, slugs.get(user.tenant_id) if user.tenant_id else None) for user in rows]


def _out(user: User, tenant: str | None) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=UserRole(user.role),
        tenant=tenant,
        disabled_at=user.disabled_at,
        password_changed_at=user.password_changed_at,
        created_at=user.created_at,
        updated_at=user.updated_at,
        version=user.version,
    )


def get_user(session: Session, user_id: uuid.UUID, *, for_update: bool = False) -> User:
    user = repository.user_by_id(session, user_id, for_update=for_update)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    return user


def _tenant_id(session: Session, role: UserRole, tenant: str | None) -> uuid.UUID | None:
    """The tenant a user of this role belongs to: none for staff, one for a policyholder."""
    if role is not UserRole.POLICYHOLDER:
        if tenant is not None:
            raise UnprocessableError(f"a {role} works across tenants: give no tenant")
        return None
    if tenant is None:
        raise UnprocessableError("a policyholder belongs to a tenant: give its slug")
    row = repository.tenant_by_slug(session, tenant)
    if row is None:
        raise NotFoundError(f"no tenant {tenant}")
    return row.id


def check_password(password: str, email: str) -> None:
    problem = passwords.password_problem(password, email)
    if problem is not None:
        raise UnprocessableError(
            f"the password is refused: {problem} (at least {passwords.MIN_PASSWORD_CHARS} "
            "characters, not the email)"
        )


def create_user(
    session: Session,
    actor: Principal | None,
    *,
    email: str,
    full_name: str,
    role: UserRole,
    tenant: str | None,
    password: str,
    now: datetime,
) -> User:
    """A new user (``actor`` None: the command line). 409 if the email is taken."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.fullmatch(email) or len(email) > MAX_EMAIL_CHARS:
        raise UnprocessableError("the email is not an email address")
    tenant_id = _tenant_id(session, role, tenant)
    check_password(password, email)
    if repository.user_by_email(session, email) is not None:
        raise ConflictError(f"a user with email {email} exists")
    user = User(
        email=email,
        full_name=full_name,
        role=role.value,
        tenant_id=tenant_id,
        password_hash=passwords.hash_password(password),
        password_changed_at=now,
        version=1,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():  # a concurrent sign-up with the same email: 409, not 500
            repository.add(session, user)
    except IntegrityError as exc:
        if not repository.is_unique_violation(exc, "uq_users_email"):
            raise
        raise ConflictError(f"a user with email {email} exists") from None
    audit.record(
        session,
        actor,
        "users:create",
        target_type="user",
        target_id=user.id,
        tenant_id=tenant_id,
        detail=audit.created(
            {"email": email, "full_name": full_name, "role": role, "tenant": tenant}
        ),
    )
    return user


def update_user(
    session: Session,
    actor: Principal,
    user_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    version: int,
    now: datetime,
) -> User:
    """Apply ``changes`` (full_name, role, tenant) to the user at ``version``; 412 if stale."""
    user = get_user(session, user_id, for_update=True)
    if user.version != version:
        raise PreconditionFailedError(
            f"the user is at version {user.version}, not {version}: read it again"
        )
    slugs = repository.tenant_slugs(session, [user.tenant_id] if user.tenant_id else [])
    current_tenant = slugs.get(user.tenant_id) if user.tenant_id else None
    role = UserRole(changes.get("role") or user.role)
    tenant = changes.get("tenant", current_tenant)
    if role is not UserRole.POLICYHOLDER and "tenant" not in changes:
        tenant = None  # made staff: the tenant goes with the policyholder role
    if user.id == actor.id and role is not UserRole(user.role):
        raise ConflictError("an administrator cannot change its own role")
    tenant_id = _tenant_id(session, role, tenant)
    full_name: str = changes.get("full_name") or user.full_name
    before = {"full_name": user.full_name, "role": user.role, "tenant": current_tenant}
    after = {
        "full_name": full_name,
        "role": role.value,
        "tenant": tenant if tenant_id is not None else None,
    }
    changed = audit.changes(before, after)
    if not changed:
        return user
    user.full_name = full_name
    user.role, user.tenant_id = role.value, tenant_id
    user.version += 1
    user.updated_at = now
    session.flush()
    changed["before"]["version"], changed["after"]["version"] = user.version - 1, user.version
    audit.record(
        session,
        actor,
        "users:update",
        target_type="user",
        target_id=user.id,
        tenant_id=tenant_id,
        detail=changed,
    )
    return user


def disable_user(session: Session, actor: Principal, user_id: uuid.UUID, now: datetime) -> User:
    """Disable the user: no sign-in, its tokens stop working, its refresh tokens are revoked."""
    user = get_user(session, user_id, for_update=True)
    if user.id == actor.id:
        raise ConflictError("an administrator cannot disable itself")
    if user.disabled_at is not None:
        return user
    before = audit.snapshot(user, DISABLE_FIELDS)
    user.disabled_at = now
    user.version += 1
    user.updated_at = now
    revoked = repository.revoke_user_tokens(session, user.id, now, "disabled")
    session.flush()
    audit.record(
        session,
        actor,
        "users:disable",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        detail={
            **audit.changes(before, audit.snapshot(user, DISABLE_FIELDS)),
            "sessions_ended": revoked,
        },
    )
    return user
