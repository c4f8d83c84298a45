"""Idempotency-Key on a write: the write happens once, every retry answers the first reply, on a
real PostgreSQL, with real concurrent transactions where it matters.

The app: POST /tenants creates a tenant (a real table; a second insert of the same slug would
fail, so a write done twice cannot hide) and answers its id; POST /tenants-with-secret does the
same and answers a secret too, which the stored reply withholds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import create_engine, func, pool, select, text
from sqlalchemy.orm import Session

from cloud_api.conventions.idempotency import (
    PURGE_BATCH,
    REDACTED_HEADER,
    REPLAYED_HEADER,
    IdempotencyDep,
    install_idempotency,
    purge_expired,
    request_digest,
)
from cloud_api.errors import install_error_handlers
from cloud_api.sessions import get_session
from database.models import IdempotencyKey, Tenant
from database.settings import CloudSettings
from tests.integration.api_conventions.conventions_app import TestClient


class TenantIn(BaseModel):
    slug: str


class TenantOut(BaseModel):
    id: uuid.UUID
    slug: str


class TenantWithSecretOut(TenantOut):
    secret: str | None
    note: str | None


class _Principal:
    def __init__(self, principal_id: uuid.UUID) -> None:
        self.id = principal_id


def _authenticate(request: Request, x_principal: Annotated[str, Header()]) -> None:
    request.state.principal = _Principal(uuid.UUID(x_principal))


def _app(engine_url: str | None = None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_idempotency(app)
    if engine_url is not None:
        app.state.engine = create_engine(engine_url, poolclass=pool.NullPool)

    @app.post("/tenants", status_code=201, dependencies=[Depends(_authenticate)])
    def create_tenant(body: TenantIn, response: Response, idempotency: IdempotencyDep) -> TenantOut:
        def write() -> TenantOut:
            tenant = Tenant(slug=body.slug, name=body.slug.title())
            idempotency.session.add(tenant)
            idempotency.session.flush()
            response.headers["Location"] = f"/tenants/{tenant.slug}"
            response.headers["X-Not-Stored"] = "first reply only"
            return TenantOut(id=tenant.id, slug=tenant.slug)

        return idempotency.run(write, status_code=201)

    @app.post("/tenants-with-secret", status_code=201, dependencies=[Depends(_authenticate)])
    def create_with_secret(body: TenantIn, idempotency: IdempotencyDep) -> TenantWithSecretOut:
        def write() -> TenantWithSecretOut:
            tenant = Tenant(slug=body.slug, name=body.slug.title())
            idempotency.session.add(tenant)
            idempotency.session.flush()
            return TenantWithSecretOut(
                id=tenant.id, slug=tenant.slug, secret=f"s3cr3t-{uuid.uuid4()}", note=None
            )

        # "note" is None already: not withheld, so not named; "absent" is no field at all.
        return idempotency.run(write, status_code=201, redact=("secret", "note", "absent"))

    return app


@pytest.fixture
def client(db_session: Session) -> Iterator[TestClient]:
    app = _app()

    def test_session() -> Iterator[Session]:
        with db_session.begin_nested():
            yield db_session

    app.dependency_overrides[get_session] = test_session
    with TestClient(app) as test_client:
        yield test_client


def _tenants(session: Session, slug: str) -> int:
    return session.scalar(select(func.count()).where(Tenant.slug == slug)) or 0


def test_a_retry_with_the_same_key_replays_the_first_reply_and_writes_once(
    client: TestClient, db_session: Session
) -> None:
    who = {"X-Principal": str(uuid.uuid4()), "Idempotency-Key": "k-1"}
    first = client.post("/tenants", json={"slug": "idem-a"}, headers=who)
    again = client.post("/tenants", json={"slug": "idem-a"}, headers=who)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER.lower() not in first.headers
    assert again.headers["Location"] == first.headers["Location"] == "/tenants/idem-a"
    assert "x-not-stored" in first.headers
    assert "x-not-stored" not in again.headers
    assert _tenants(db_session, "idem-a") == 1


def test_without_a_key_each_request_is_its_own_write(
    client: TestClient, db_session: Session
) -> None:
    who = {"X-Principal": str(uuid.uuid4())}
    assert client.post("/tenants", json={"slug": "idem-b"}, headers=who).status_code == 201
    assert client.post("/tenants", json={"slug": "idem-c"}, headers=who).status_code == 201
    assert db_session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_the_same_key_with_another_body_is_refused_and_does_nothing(
    client: TestClient, db_session: Session
) -> None:
    who = {"X-Principal": str(uuid.uuid4()), "Idempotency-Key": "k-2"}
    assert client.post("/tenants", json={"slug": "idem-d"}, headers=who).status_code == 201
    reused = client.post("/tenants", json={"slug": "idem-e"}, headers=who)
    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    assert "another request" in reused.json()["detail"]
    assert _tenants(db_session, "idem-e") == 0


def test_keys_are_per_principal(client: TestClient, db_session: Session) -> None:
    """Another caller's identical key is another request: its write is done (and here fails
    on the slug already taken, which proves it was attempted, not replayed)."""
    key = {"Idempotency-Key": "shared"}
    first = client.post(
        "/tenants", json={"slug": "idem-f"}, headers={**key, "X-Principal": str(uuid.uuid4())}
    )
    assert first.status_code == 201
    other = client.post(
        "/tenants", json={"slug": "idem-g"}, headers={**key, "X-Principal": str(uuid.uuid4())}
    )
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\there"])
def test_malformed_keys_are_422_problem_details(client: TestClient, key: str) -> None:
    response = client.post(
        "/tenants",
        json={"slug": "idem-h"},
        headers={"X-Principal": str(uuid.uuid4()), "Idempotency-Key": key},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_the_digest_tells_method_path_and_body_apart() -> None:
    base = request_digest("POST", "/a", b"{}")
    assert base == request_digest("post", "/a", b"{}")
    assert len({base, request_digest("PUT", "/a", b"{}"), request_digest("POST", "/b", b"{}")}) == 3
    # Length-prefixed: moving bytes between path and body changes the digest.
    assert request_digest("POST", "/ab", b"c") != request_digest("POST", "/a", b"bc")


def test_concurrent_retries_write_once_and_all_get_the_same_reply(
    fresh_database: CloudSettings,
) -> None:
    """Eight requests with one key at once, each in its own real transaction: one tenant, eight
    identical replies (seven replayed)."""
    app = _app(fresh_database.sqlalchemy_url)
    headers = {"X-Principal": str(uuid.uuid4()), "Idempotency-Key": "race"}
    replies: list[tuple[int, object, str | None]] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def post() -> None:
        with TestClient(app) as test_client:
            start.wait()
            response = test_client.post("/tenants", json={"slug": "idem-race"}, headers=headers)
            with lock:
                replies.append(
                    (response.status_code, response.json(), response.headers.get(REPLAYED_HEADER))
                )

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(replies) == 8
    assert {status for status, _, _ in replies} == {201}
    assert len({str(body) for _, body, _ in replies}) == 1
    assert sum(1 for _, _, replayed in replies if replayed == "true") == 7
    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    with Session(engine) as session:
        assert _tenants(session, "idem-race") == 1
    engine.dispose()
    app.state.engine.dispose()


def test_redacted_fields_are_shown_once_and_never_stored(
    client: TestClient, db_session: Session
) -> None:
    principal = uuid.uuid4()
    who = {"X-Principal": str(principal), "Idempotency-Key": "k-secret"}
    first = client.post("/tenants-with-secret", json={"slug": "idem-s"}, headers=who)
    again = client.post("/tenants-with-secret", json={"slug": "idem-s"}, headers=who)
    assert first.status_code == again.status_code == 201
    secret = first.json()["secret"]
    assert secret.startswith("s3cr3t-")
    assert REDACTED_HEADER.lower() not in first.headers
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.headers[REDACTED_HEADER] == "secret"
    assert again.json() == {**first.json(), "secret": None}
    row = db_session.get(IdempotencyKey, (principal, "k-secret"))
    assert row is not None
    assert secret not in str(row.response_body)
    assert secret not in str(row.response_headers)
    assert _tenants(db_session, "idem-s") == 1


def test_a_reply_without_secrets_names_none_withheld(client: TestClient) -> None:
    who = {"X-Principal": str(uuid.uuid4()), "Idempotency-Key": "k-plain"}
    client.post("/tenants", json={"slug": "idem-p"}, headers=who)
    again = client.post("/tenants", json={"slug": "idem-p"}, headers=who)
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REDACTED_HEADER.lower() not in again.headers


def _stored_key(principal: uuid.UUID, key: str, expires_at: datetime) -> IdempotencyKey:
    return IdempotencyKey(
        principal_id=principal,
        key=key,
        request_digest=request_digest("POST", "/tenants", key.encode()),
        status_code=201,
        response_body={"id": key},
        expires_at=expires_at,
    )


def _keys(session: Session) -> set[str]:
    return set(session.scalars(select(IdempotencyKey.key)))


def test_a_claim_purges_a_bounded_batch_of_other_expired_keys(
    client: TestClient, db_session: Session
) -> None:
    now = datetime.now(UTC)
    others = uuid.uuid4()
    expired = [f"old-{n}" for n in range(PURGE_BATCH + 5)]
    db_session.add_all(_stored_key(others, key, now - timedelta(seconds=1)) for key in expired)
    db_session.add(_stored_key(others, "live", now + timedelta(hours=1)))
    db_session.flush()
    who = {"X-Principal": str(uuid.uuid4()), "Idempotency-Key": "k-purge"}
    assert client.post("/tenants", json={"slug": "idem-q"}, headers=who).status_code == 201
    left = _keys(db_session)
    assert {"live", "k-purge"} <= left
    assert len(left & set(expired)) == 5  # one batch gone, the rest for the next claims
    who["Idempotency-Key"] = "k-purge-2"
    assert client.post("/tenants", json={"slug": "idem-r"}, headers=who).status_code == 201
    assert not _keys(db_session) & set(expired)


def test_an_expired_key_is_claimed_afresh(client: TestClient, db_session: Session) -> None:
    principal = uuid.uuid4()
    db_session.add(_stored_key(principal, "k-old", datetime.now(UTC) - timedelta(seconds=1)))
    db_session.flush()
    who = {"X-Principal": str(principal), "Idempotency-Key": "k-old"}
    response = client.post("/tenants", json={"slug": "idem-t"}, headers=who)
    assert response.status_code == 201
    assert REPLAYED_HEADER.lower() not in response.headers
    assert _tenants(db_session, "idem-t") == 1


def test_the_purge_command_deletes_every_expired_key_and_no_live_one(
    fresh_database: CloudSettings,
) -> None:
    now = datetime.now(UTC)
    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    principal = uuid.uuid4()
    with Session(engine) as session, session.begin():
        session.add_all(
            _stored_key(principal, f"old-{n}", now - timedelta(minutes=1))
            for n in range(2 * PURGE_BATCH + 7)
        )
        session.add(_stored_key(principal, "live", now + timedelta(hours=1)))
    result = subprocess.run(
        [sys.executable, "-m", "cloud_api", "purge-idempotency-keys"],
        capture_output=True,
        text=True,
        env={**os.environ, "ROBOCOVER_DATABASE_URL": str(fresh_database.database_url)},
        cwd=Path(__file__).resolve().parents[3],
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"purged {2 * PURGE_BATCH + 7} expired idempotency keys" in result.stdout
    with Session(engine) as session:
        assert _keys(session) == {"live"}
    engine.dispose()


def test_the_purge_skips_rows_another_transaction_holds_instead_of_waiting(
    fresh_database: CloudSettings,
) -> None:
    """A claim's purge never waits on another request: an expired row locked elsewhere is
    left for a later purge, the others go."""
    now = datetime.now(UTC)
    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    principal = uuid.uuid4()
    with Session(engine) as session, session.begin():
        session.add_all(
            _stored_key(principal, key, now - timedelta(minutes=1)) for key in ("held", "free")
        )
    with Session(engine) as holder, holder.begin():
        holder.execute(
            select(IdempotencyKey).where(IdempotencyKey.key == "held").with_for_update()
        ).one()
        with Session(engine) as purger, purger.begin():
            purger.execute(text("SET LOCAL lock_timeout = '2s'"))  # a wait would fail, not hang
            assert purge_expired(purger, now) == 1
    with Session(engine) as session:
        assert _keys(session) == {"held"}
    engine.dispose()
