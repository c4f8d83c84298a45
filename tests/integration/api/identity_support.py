"""Factories and steps the identity tests share: users made through the service, real sign-ins."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from loguru import logger
from sqlalchemy.orm import Session

from cloud_api.access.dependencies import install_authenticator
from cloud_api.access.roles import Principal
from cloud_api.identity import service
from cloud_api.identity.authenticator import IdentityAuthenticator
from cloud_api.identity.config import Identity
from cloud_api.identity.passwords import hash_password
from cloud_api.identity.store import IdentityStore
from database.models import User, UserRole
from tests.support.api import ApiHarness

PASSWORD = "correct horse battery staple"
_UNUSED_PASSWORD_HASH = hash_password("an admin's own password")


def email(prefix: str = "user") -> str:
    """An email no other test uses (the failure counters in Redis are keyed by it)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"


def isolate(harness: ApiHarness) -> ApiHarness:
    """Give the app a Redis key prefix of this test's own: failure counters of the shared
    client address ("testclient") and signed-out tokens of other tests, or of other test runs
    on the same Redis, never reach it."""
    app = harness.app
    current: Identity = app.state.identity
    store = IdentityStore(
        redis_url=str(app.state.settings.redis_url), key_prefix=f"test-{uuid.uuid4().hex}"
    )
    identity = Identity(current.tokens, store, current.policies)
    app.state.identity = identity
    install_authenticator(app, IdentityAuthenticator(identity))
    return harness


def seat_admin(harness: ApiHarness, admin: Principal) -> ApiHarness:
    """Make the admin principal a user of the database (what it creates records its creator).
    Its password is never used: the hash is made once, not per test."""
    harness.session.add(
        User(
            id=admin.id,
            email=f"admin-{admin.id.hex[:8]}@example.test",
            full_name="Admin",
            role="admin",
            password_hash=_UNUSED_PASSWORD_HASH,
        )
    )
    harness.session.flush()
    return harness


def create_user(
    session: Session,
    role: UserRole = UserRole.UNDERWRITER,
    *,
    tenant: str | None = None,
    address: str | None = None,
    password: str = PASSWORD,
) -> User:
    return service.create_user(
        session,
        None,
        email=address or email(role.value),
        full_name=f"A {role.value}",
        role=role,
        tenant=tenant,
        password=password,
        now=datetime.now(UTC),
    )


def sign_in(client: TestClient, address: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/v1/auth/token", data={"username": address, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Everything logged meanwhile, at every level, as text."""
    stream = io.StringIO()
    sink = logger.add(stream, level="TRACE", serialize=True)
    try:
        yield stream
    finally:
        logger.remove(sink)
