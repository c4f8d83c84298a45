"""Tenants' service accounts and their API keys: made by an admin, shown once, stored only as a
hash, authenticating as the service principal with only the key's scopes."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from cloud_api.access.roles import Role
from database.models import ApiKey, AuditEvent, ServiceAccount
from tests.integration.api.identity_support import bearer, captured_logs, isolate, seat_admin
from tests.support.api import ApiHarness, principal

ADMIN = principal(Role.ADMIN)


@pytest.fixture
def api(api: ApiHarness) -> ApiHarness:
    """With ADMIN a user of the database: a service account records its creator."""
    return isolate(seat_admin(api, ADMIN))


def _account(api: ApiHarness, tenant: str = "acme", name: str = "fleet-sync") -> dict[str, Any]:
    api.tenant(tenant)
    response = api.client(ADMIN).post(f"/v1/tenants/{tenant}/service-accounts", json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _key(
    api: ApiHarness, account: dict[str, Any], scopes: list[str], days: int = 30
) -> dict[str, Any]:
    response = api.client(ADMIN).post(
        f"/v1/tenants/{account['tenant']}/service-accounts/{account['id']}/api-keys",
        json={"scopes": scopes, "expires_in_days": days},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_key_authenticates_as_the_service_account_with_only_its_scopes(
    api: ApiHarness,
) -> None:
    account = _account(api)
    with captured_logs() as logs:
        issued = _key(api, account, ["robots:read", "claims:create"])
        client = api.client()
        me = client.get("/v1/auth/me", headers=bearer(issued["key"]))
        users = client.get("/v1/users", headers=bearer(issued["key"]))
        accounts = client.get("/v1/tenants/acme/service-accounts", headers=bearer(issued["key"]))
    assert issued["key"].startswith("rck_")
    assert me.status_code == 200, me.text
    assert me.json() == {
        "principal": {
            "id": account["id"],
            "role": "service",
            "tenant": "acme",
            "scopes": ["claims:create", "robots:read"],
        },
        "user": None,
    }
    assert (users.status_code, accounts.status_code) == (403, 403)
    secret = issued["key"].split(".", 1)[1]
    assert secret not in logs.getvalue()
    # Only SHA-256 of the secret is kept, and nowhere else in the row.
    row = api.session.get(ApiKey, issued["id"])
    assert row is not None
    assert row.secret_hash == hashlib.sha256(secret.encode()).digest()
    stored = api.session.execute(
        text("SELECT row_to_json(k)::text FROM api_keys k WHERE id = :id"), {"id": row.id}
    ).scalar_one()
    assert secret not in stored
    events = api.session.scalars(
        select(AuditEvent.detail).where(AuditEvent.target_id == issued["id"])
    ).all()
    assert events
    assert all(secret not in str(detail) for detail in events)
    assert row.last_used_at is not None  # written by the first use


def test_listing_keys_never_shows_a_secret(api: ApiHarness) -> None:
    account = _account(api)
    issued = _key(api, account, ["robots:read"])
    listing = api.client(principal(Role.AUDITOR)).get(
        f"/v1/tenants/acme/service-accounts/{account['id']}/api-keys"
    )
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["items"]] == [issued["id"]]
    assert "key" not in listing.json()["items"][0]
    assert issued["key"].split(".", 1)[1] not in listing.text


def test_scopes_beyond_the_ceiling_are_refused_by_name(api: ApiHarness) -> None:
    account = _account(api)
    response = api.client(ADMIN).post(
        f"/v1/tenants/acme/service-accounts/{account['id']}/api-keys",
        json={"scopes": ["robots:read", "users:create", "claims:approve"]},
    )
    assert response.status_code == 422
    assert response.json()["detail"].endswith("claims:approve, users:create")
    too_long = api.client(ADMIN).post(
        f"/v1/tenants/acme/service-accounts/{account['id']}/api-keys",
        json={"scopes": ["robots:read"], "expires_in_days": 366},
    )
    assert too_long.status_code == 422
    assert api.session.scalars(select(ApiKey)).all() == []


def test_a_revoked_or_expired_key_is_refused(api: ApiHarness) -> None:
    account = _account(api)
    revoked = _key(api, account, ["robots:read"])
    expired = _key(api, account, ["robots:read"])
    base = f"/v1/tenants/acme/service-accounts/{account['id']}/api-keys"
    assert api.client(ADMIN).post(f"{base}/{revoked['id']}/revoke").status_code == 200
    row = api.session.get(ApiKey, expired["id"])
    assert row is not None
    row.created_at -= timedelta(days=31)
    row.expires_at = row.created_at + timedelta(days=30)
    api.session.flush()
    client = api.client()
    for issued, reason in ((revoked, "revoked"), (expired, "expired")):
        response = client.get("/v1/auth/me", headers=bearer(issued["key"]))
        assert response.status_code == 401
        assert reason in response.json()["detail"]
        assert issued["key"] not in response.text
    forged = revoked["key"][:-4] + "AAAA"
    assert "not known" in client.get("/v1/auth/me", headers=bearer(forged)).json()["detail"]


def test_disabling_an_account_revokes_its_keys(api: ApiHarness) -> None:
    account = _account(api)
    issued = _key(api, account, ["robots:read"])
    response = api.client(ADMIN).post(f"/v1/tenants/acme/service-accounts/{account['id']}/disable")
    assert response.status_code == 200
    assert response.json()["disabled_at"] is not None
    me = api.client().get("/v1/auth/me", headers=bearer(issued["key"]))
    assert me.status_code == 401
    again = api.client(ADMIN).post(
        f"/v1/tenants/acme/service-accounts/{account['id']}/api-keys",
        json={"scopes": ["robots:read"]},
    )
    assert again.status_code == 409


def test_a_suspended_tenants_keys_are_refused(api: ApiHarness) -> None:
    account = _account(api)
    issued = _key(api, account, ["robots:read"])
    api.tenant("acme").status = "suspended"
    api.session.flush()
    me = api.client().get("/v1/auth/me", headers=bearer(issued["key"]))
    assert me.status_code == 401
    assert "suspended" in me.json()["detail"]


def test_tenants_do_not_reach_each_others_service_accounts(api: ApiHarness) -> None:
    account = _account(api, "acme")
    api.tenant("globex")
    # The table gives policyholders no service_accounts:* at all: 403, whatever the tenant.
    for tenant in ("acme", "globex"):
        holder = api.client(principal(Role.POLICYHOLDER, tenant))
        assert holder.get("/v1/tenants/acme/service-accounts").status_code == 403
        path = f"/v1/tenants/acme/service-accounts/{account['id']}"
        assert holder.get(path).status_code == 403
    # Staff reach acme's account only under acme's slug; unknown tenants are 404.
    auditor = api.client(principal(Role.AUDITOR))
    assert auditor.get(f"/v1/tenants/acme/service-accounts/{account['id']}").status_code == 200
    assert auditor.get(f"/v1/tenants/globex/service-accounts/{account['id']}").status_code == 404
    assert auditor.get("/v1/tenants/nowhere/service-accounts").status_code == 404
    assert auditor.post("/v1/tenants/acme/service-accounts", json={"name": "x"}).status_code == 403
    # A service account of globex, whatever its scopes, cannot list acme's.
    other = _account(api, "globex", "globex-sync")
    key = _key(api, other, ["robots:read"])
    response = api.client().get("/v1/tenants/acme/service-accounts", headers=bearer(key["key"]))
    assert response.status_code == 403


def test_names_are_unique_within_a_tenant(api: ApiHarness) -> None:
    _account(api, "acme", "sync")
    duplicate = api.client(ADMIN).post("/v1/tenants/acme/service-accounts", json={"name": "sync"})
    assert duplicate.status_code == 409
    _account(api, "globex", "sync")  # another tenant may use the name
    listing = api.client(ADMIN).get("/v1/tenants/acme/service-accounts").json()
    assert [item["name"] for item in listing["items"]] == ["sync"]
    created = api.session.scalars(select(ServiceAccount.created_by)).all()
    assert set(created) == {ADMIN.id}
