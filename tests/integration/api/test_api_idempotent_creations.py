"""Idempotency-Key on the creating POSTs of tenants and identity: a retry creates once and
answers the first reply (a secret in it withheld: null, named in Idempotent-Redacted); the same
key with another body is a 422 that creates nothing. Sign-in and refresh take no key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud_api.access.roles import Role
from cloud_api.app import openapi_document
from cloud_api.conventions.idempotency import REDACTED_HEADER, REPLAYED_HEADER
from database.models import ApiKey, AuditEvent, IdempotencyKey, ServiceAccount, Tenant, User
from tests.integration.api.identity_support import PASSWORD, create_user, isolate, seat_admin
from tests.support.api import ApiHarness, principal

ADMIN = principal(Role.ADMIN)
# Creating POSTs that take no key, and why: sign-in, refresh and a password change answer
# credentials (a replay would hand them out again); a robot's enrollment trades a one-time
# token, which is its own guard against doing it twice. The robots' routes are another
# engineer's: drop "/v1/robots" here when POST /v1/robots takes the key.
WITHOUT_KEY = ("/v1/auth/", "/v1/enrollments", "/v1/robots")


@pytest.fixture
def api(api: ApiHarness) -> ApiHarness:
    """With ADMIN a user of the database (a service account records its creator)."""
    return seat_admin(api, ADMIN)


def _count(api: ApiHarness, model: type[Any]) -> int:
    return api.session.scalar(select(func.count()).select_from(model)) or 0


def _created_once(
    api: ApiHarness,
    path: str,
    body: dict[str, Any],
    other_body: dict[str, Any],
    model: type[Any],
    *,
    secret: str | None = None,
) -> dict[str, Any]:
    """POST twice with one key, then with another body: one row, one replay, one 422."""
    client = api.client(ADMIN)
    key = {"Idempotency-Key": f"create-{path}"}
    rows, events = _count(api, model), _count(api, AuditEvent)
    first = client.post(path, json=body, headers=key)
    assert first.status_code == 201, first.text
    again = client.post(path, json=body, headers=key)
    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER.lower() not in first.headers
    for header in ("location", "etag"):
        assert again.headers.get(header) == first.headers.get(header)
    if secret is None:
        assert again.json() == first.json()
        assert REDACTED_HEADER.lower() not in again.headers
    else:
        assert isinstance(first.json()[secret], str)
        assert again.json() == {**first.json(), secret: None}
        assert again.headers[REDACTED_HEADER] == secret
        stored = api.session.scalars(
            select(IdempotencyKey).where(IdempotencyKey.principal_id == ADMIN.id)
        ).all()
        assert first.json()[secret] not in json.dumps([row.response_body for row in stored])
    reused = client.post(path, json=other_body, headers=key)
    assert reused.status_code == 422
    assert reused.json()["title"] == "Idempotency key reused"
    assert _count(api, model) == rows + 1
    assert _count(api, AuditEvent) == events + 1
    result: dict[str, Any] = first.json()
    return result


def test_a_tenant_is_created_once(api: ApiHarness) -> None:
    _created_once(
        api,
        "/v1/tenants",
        {"slug": "idem-tenant", "name": "Once"},
        {"slug": "idem-tenant-2", "name": "Twice"},
        Tenant,
    )


def test_a_user_is_created_once_and_its_password_shown_once(api: ApiHarness) -> None:
    api.tenant("idem-users")
    body = {
        "email": "idem-user@example.test",
        "full_name": "Once",
        "role": "policyholder",
        "tenant": "idem-users",
    }
    _created_once(
        api, "/v1/users", body, {**body, "full_name": "Twice"}, User, secret="initial_password"
    )


def test_a_service_account_is_created_once(api: ApiHarness) -> None:
    api.tenant("idem-accounts")
    _created_once(
        api,
        "/v1/tenants/idem-accounts/service-accounts",
        {"name": "sync"},
        {"name": "other"},
        ServiceAccount,
    )


def test_an_api_key_is_issued_once_and_its_secret_shown_once(api: ApiHarness) -> None:
    api.tenant("idem-keys")
    account = api.client(ADMIN).post(
        "/v1/tenants/idem-keys/service-accounts", json={"name": "sync"}
    )
    assert account.status_code == 201, account.text
    issued = _created_once(
        api,
        f"/v1/tenants/idem-keys/service-accounts/{account.json()['id']}/api-keys",
        {"scopes": ["robots:read"], "expires_in_days": 30},
        {"scopes": ["robots:read"], "expires_in_days": 7},
        ApiKey,
        secret="key",
    )
    assert issued["key"].startswith("rck_")


def test_a_refused_creation_stores_no_reply_and_its_key_stays_free(api: ApiHarness) -> None:
    """A 409 rolls back the claim with the write: the same key then does the write."""
    api.tenant("idem-taken")
    client = api.client(ADMIN)
    key = {"Idempotency-Key": "after-a-conflict"}
    taken = client.post("/v1/tenants", json={"slug": "idem-taken", "name": "N"}, headers=key)
    assert taken.status_code == 409
    assert REPLAYED_HEADER.lower() not in taken.headers
    free = client.post("/v1/tenants", json={"slug": "idem-free", "name": "N"}, headers=key)
    assert free.status_code == 201, free.text
    assert REPLAYED_HEADER.lower() not in free.headers


def test_creating_posts_document_the_key_and_sign_in_does_not(api: ApiHarness) -> None:
    document = json.loads(openapi_document(api.app))
    with_key, creating = set(), set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = {p["name"].lower() for p in operation.get("parameters", [])}
            if "idempotency-key" in names:
                with_key.add((method, path))
            if method == "post" and "201" in operation["responses"]:
                creating.add((method, path))
    assert not {p for _, p in with_key if p.startswith("/v1/auth/")}
    expected = {(m, p) for m, p in creating if not p.startswith(WITHOUT_KEY)}
    assert {
        ("post", "/v1/tenants"),
        ("post", "/v1/users"),
        ("post", "/v1/tenants/{tenant_slug}/service-accounts"),
        ("post", "/v1/tenants/{tenant_slug}/service-accounts/{account_id}/api-keys"),
    } <= expected
    assert expected <= with_key


def test_a_sign_in_with_a_key_is_never_replayed(api: ApiHarness) -> None:
    """Each sign-in issues its own tokens, whatever Idempotency-Key it carries."""
    isolate(api)
    user = create_user(api.session)
    client = api.client()
    form = {"username": user.email, "password": PASSWORD}
    key = {"Idempotency-Key": "sign-in"}
    first = client.post("/v1/auth/token", data=form, headers=key)
    again = client.post("/v1/auth/token", data=form, headers=key)
    assert first.status_code == again.status_code == 200
    assert REPLAYED_HEADER.lower() not in again.headers
    assert first.json()["refresh_token"] != again.json()["refresh_token"]
    assert _count(api, IdempotencyKey) == 0
