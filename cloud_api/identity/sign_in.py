"""Signing in, refreshing, signing out and changing one's password: the rules of a session.

A session is a refresh-token family: signing in starts one; each refresh spends its token and
issues the successor in the same family; presenting a spent token again means two parties
hold it (one stole it), so the whole family is revoked and both must sign in again.

Backoff and lockout count failures per email and per client address in Redis (store.py),
whether or not the email belongs to anyone, and an unknown email costs one argon2
verification like a known one: neither the answer nor its time says which emails exist. A
disabled user's correct password is refused like a wrong one.

Access tokens are issued no earlier than the user's ``password_changed_at`` (a whole second,
set just past the change): a token issued before a password change is refused by the
authenticator, one issued after it never is, even within the same second.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from loguru import logger
from sqlalchemy.orm import Session

from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.conventions import RateLimitedError
from cloud_api.errors import ForbiddenError, NotAuthenticatedError
from cloud_api.identity import passwords, repository
from cloud_api.identity.config import Identity
from cloud_api.identity.opaque_secrets import (
    MalformedSecret,
    SecretKind,
    issue_secret,
    parse_secret,
    secret_matches,
)
from cloud_api.identity.schemas import TokenPair
from cloud_api.identity.service import check_password, principal_of
from cloud_api.identity.tokens import AccessClaims, issue_access_token
from database.models import RefreshToken, User

WRONG_CREDENTIALS = "the email or the password is not correct"


def whole_second_after(moment: datetime) -> datetime:
    """The first whole second strictly after ``moment``."""
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def _issue_time(user: User, now: datetime) -> datetime:
    changed = user.password_changed_at
    if changed.microsecond:
        changed = whole_second_after(changed)
    return max(now, changed)


def _slug(session: Session, user: User) -> str | None:
    if user.tenant_id is None:
        return None
    return repository.tenant_slugs(session, [user.tenant_id])[user.tenant_id]


def issue_pair(
    session: Session, identity: Identity, user: User, now: datetime, family_id: uuid.UUID
) -> TokenPair:
    """A new access token and a new refresh token of ``family_id`` for the user."""
    config = identity.tokens
    token, claims = issue_access_token(
        config.keys,
        principal_of(user, _slug(session, user)),
        _issue_time(user, now),
        config.access_ttl,
        issuer=config.issuer,
        audience=config.audience,
    )
    secret = issue_secret(SecretKind.REFRESH_TOKEN)
    row = RefreshToken(
        id=secret.key_id,
        user_id=user.id,
        family_id=family_id,
        secret_hash=secret.digest,
        issued_at=now,
        expires_at=now + config.refresh_ttl,
    )
    repository.add(session, row)
    expires_in = max(1, int((claims.expires_at - now).total_seconds()))
    return TokenPair(access_token=token, expires_in=expires_in, refresh_token=secret.text)


def _throttle(identity: Identity, email: str, address: str, now: datetime) -> None:
    store, policies = identity.store, identity.policies
    decisions = [
        store.decision(policies.email, "email", email, now),
        store.decision(policies.address, "address", address, now),
    ]
    refused = [decision for decision in decisions if not decision.allowed]
    if refused:
        wait = max(decision.retry_after_s for decision in refused)
        raise RateLimitedError(f"too many failed sign-ins; retry in {wait} s", retry_after_s=wait)


def _failed(identity: Identity, email: str, address: str, now: datetime, why: str) -> NoReturn:
    store, policies = identity.store, identity.policies
    state = store.record_failure(policies.email, "email", email, now)
    store.record_failure(policies.address, "address", address, now)
    logger.bind(email=email, client=address, failures=state.failures, why=why).warning(
        "sign-in refused"
    )
    raise NotAuthenticatedError(WRONG_CREDENTIALS, error="invalid_grant")


def sign_in(
    session: Session,
    identity: Identity,
    *,
    email: str,
    password: str,
    address: str,
    now: datetime,
) -> TokenPair:
    """A new session for the user with this email and password; 401 or 429 otherwise."""
    email = email.strip().lower()
    _throttle(identity, email, address, now)
    user = repository.user_by_email(session, email)
    if user is None:
        passwords.dummy_verify(password)
        _failed(identity, email, address, now, "unknown email")
    if not passwords.verify(user.password_hash, password):
        _failed(identity, email, address, now, "wrong password")
    if user.disabled_at is not None:
        _failed(identity, email, address, now, "disabled user")
    identity.store.clear("email", email)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    pair = issue_pair(session, identity, user, now, family_id=uuid.uuid4())
    audit.record(
        session,
        principal_of(user, _slug(session, user)),
        "auth:sign_in",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        detail={"client": address},
    )
    return pair


@dataclass(frozen=True, slots=True)
class RefreshRefused:
    """A refresh refused after a change that must be committed (a family revoked for reuse):
    returned, not raised, so the request's transaction keeps the revocation."""

    error: NotAuthenticatedError


def _refresh_row(session: Session, text: str) -> RefreshToken:
    try:
        presented = parse_secret(text, SecretKind.REFRESH_TOKEN)
    except MalformedSecret as exc:
        raise NotAuthenticatedError(
            f"the refresh token is malformed ({exc.reason})", error="invalid_grant"
        ) from None
    row = repository.refresh_token_for_update(session, presented.key_id)
    if not secret_matches(presented, row.secret_hash if row is not None else None):
        raise NotAuthenticatedError("the refresh token is not known", error="invalid_grant")
    assert row is not None  # noqa: S101 - secret_matches is False without a row
    return row


def refresh(
    session: Session, identity: Identity, *, refresh_token: str, now: datetime
) -> TokenPair | RefreshRefused:
    """Spend the refresh token for a new pair in its family."""
    row = _refresh_row(session, refresh_token)
    if row.revoked_at is not None:
        raise NotAuthenticatedError(
            f"the refresh token was revoked ({row.revoked_reason})", error="invalid_grant"
        )
    if row.spent_at is not None:
        revoked = repository.revoke_family(session, row.family_id, now, "reuse")
        logger.bind(user_id=str(row.user_id), family=str(row.family_id), revoked=revoked).warning(
            "a spent refresh token was presented again: its family is revoked"
        )
        owner = repository.user_by_id(session, row.user_id)
        if owner is not None:  # the session's owner stands as actor: who replayed it is unknown
            audit.record(
                session,
                principal_of(owner, _slug(session, owner)),
                "auth:refresh_reuse",
                target_type="user",
                target_id=owner.id,
                tenant_id=owner.tenant_id,
                detail={"family": str(row.family_id), "revoked": revoked},
            )
        return RefreshRefused(
            NotAuthenticatedError(
                "the refresh token was already used: the session is revoked, sign in again",
                error="invalid_grant",
            )
        )
    if now >= row.expires_at:
        raise NotAuthenticatedError("the refresh token expired", error="invalid_grant")
    user = repository.user_by_id(session, row.user_id)
    if user is None or user.disabled_at is not None:
        raise NotAuthenticatedError("the user is disabled", error="invalid_grant")
    row.spent_at = now
    return issue_pair(session, identity, user, now, family_id=row.family_id)


def sign_out(
    session: Session,
    identity: Identity,
    principal: Principal,
    claims: AccessClaims,
    *,
    refresh_token: str | None,
    now: datetime,
) -> None:
    """End the session: its refresh family revoked, the access token denied until it expires."""
    family: uuid.UUID | None = None
    if refresh_token is not None:
        row = _refresh_row(session, refresh_token)
        if row.user_id != principal.id:
            raise NotAuthenticatedError("the refresh token is not one of this user's")
        family = row.family_id
        repository.revoke_family(session, family, now, "logout")
    identity.store.deny(claims.token_id, claims.expires_at, now)
    audit.record(
        session,
        principal,
        "auth:sign_out",
        target_type="user",
        target_id=principal.id,
        tenant_id=None,
        detail={"family": str(family) if family else None},
    )


def change_password(
    session: Session,
    identity: Identity,
    principal: Principal,
    *,
    current_password: str,
    new_password: str,
    address: str,
    now: datetime,
) -> TokenPair:
    """Change one's own password: every other session ends; a new pair continues this one."""
    user = repository.user_by_id(session, principal.id, for_update=True)
    if user is None:
        raise NotAuthenticatedError("the token's user no longer exists")
    _throttle(identity, user.email, address, now)
    if not passwords.verify(user.password_hash, current_password):
        identity.store.record_failure(identity.policies.email, "email", user.email, now)
        raise ForbiddenError("the current password is not correct")
    check_password(new_password, user.email)
    user.password_hash = passwords.hash_password(new_password)
    # Past every token issued so far, whose iat may be ahead of now (_issue_time): they all stop.
    user.password_changed_at = whole_second_after(_issue_time(user, now))
    user.version += 1
    user.updated_at = now
    revoked = repository.revoke_user_tokens(session, user.id, now, "password_changed")
    session.flush()
    audit.record(
        session,
        principal,
        "auth:password_changed",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        detail={"sessions_ended": revoked},
    )
    return issue_pair(session, identity, user, now, family_id=uuid.uuid4())
