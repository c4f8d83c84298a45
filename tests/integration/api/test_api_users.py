"""/v1/users: listing (keyset pages, filters), creating, reading with an ETag, changing with
If-Match, disabling; who may do each."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from cloud_api.access.roles import Principal, Role
from database.models import AuditEvent, RefreshToken, UserRole
from tests.integration.api.identity_support import create_user, isolate, sign_in
from tests.support.api import ApiHarness, principal

ADMIN = principal(Role.ADMIN)


@pytest.fixture
def api(api: ApiHarness) -> ApiHarness:
    return isolate(api)


def test_an_admin_creates_a_user_who_signs_in_with_the_generated_password(
    api: ApiHarness,
) -> None:
    api.tenant("acme")
    response = api.client(ADMIN).post(
        "/v1/users",
        json={
            "email": "  Pat.Holder@Acme.Example ",
            "full_name": "Pat Holder",
            "role": "policyholder",
            "tenant": "acme",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "pat.holder@acme.example"
    assert (body["role"], body["tenant"], body["version"]) == ("policyholder", "acme", 1)
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"] == f"/v1/users/{body['id']}"
    password = body["initial_password"]
    assert len(password) >= 24
    pair = sign_in(api.client(), body["email"], password)
    me = api.client().get(
        "/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.json()["principal"]["tenant"] == "acme"
    event = api.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "users:create", AuditEvent.target_id == body["id"]
        )
    ).one()
    assert event.actor_id == ADMIN.id
    assert password not in str(event.detail)
    # The listing never shows a password again.
    again = api.client(ADMIN).get(f"/v1/users/{body['id']}")
    assert "initial_password" not in again.json()


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"role": "underwriter", "tenant": "acme"}, 422, "works across tenants"),
        ({"role": "policyholder"}, 422, "belongs to a tenant"),
        ({"role": "policyholder", "tenant": "nowhere"}, 404, "no tenant nowhere"),
        ({"role": "superuser"}, 422, "role"),
        ({"role": "auditor", "email": "not-an-email"}, 422, "email"),
    ],
)
def test_creating_a_user_refuses_inconsistent_requests(
    api: ApiHarness, body: dict[str, str], status: int, says: str
) -> None:
    api.tenant("acme")
    payload = {"email": "someone@example.test", "full_name": "Someone", **body}
    response = api.client(ADMIN).post("/v1/users", json=payload)
    assert response.status_code == status, response.text
    assert says in response.text


def test_a_taken_email_is_409(api: ApiHarness) -> None:
    user = create_user(api.session, UserRole.AUDITOR)
    payload = {"email": user.email.upper(), "full_name": "Twin", "role": "auditor"}
    response = api.client(ADMIN).post("/v1/users", json=payload)
    assert response.status_code == 409


@pytest.mark.parametrize("role", [Role.UNDERWRITER, Role.AUDITOR, Role.POLICYHOLDER])
def test_only_admins_create_users(api: ApiHarness, role: Role) -> None:
    api.tenant("acme")
    payload = {"email": "x@example.test", "full_name": "X", "role": "admin"}
    response = api.client(principal(role, "acme")).post("/v1/users", json=payload)
    assert response.status_code == 403


def test_the_listing_pages_and_filters_by_role_and_tenant(api: ApiHarness) -> None:
    api.tenant("acme")
    api.tenant("globex")
    acme = [create_user(api.session, UserRole.POLICYHOLDER, tenant="acme") for _ in range(3)]
    create_user(api.session, UserRole.POLICYHOLDER, tenant="globex")
    auditor = principal(Role.AUDITOR)  # reads users, as the table says
    client = api.client(auditor)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"tenant": "acme", "limit": "2", "sort": "email"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/users", params=params)
        assert page.status_code == 200, page.text
        seen += [item["email"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(user.email for user in acme)
    staff = client.get("/v1/users", params={"role": "policyholder", "limit": "200"}).json()
    assert {item["role"] for item in staff["items"]} == {"policyholder"}
    assert client.get("/v1/users", params={"role": "pilot"}).status_code == 400


@pytest.mark.parametrize("role", [Role.UNDERWRITER, Role.POLICYHOLDER, Role.BILLING_AGENT])
def test_users_are_hidden_from_roles_without_users_read(api: ApiHarness, role: Role) -> None:
    api.tenant("acme")
    user = create_user(api.session, UserRole.POLICYHOLDER, tenant="acme")
    client = api.client(principal(role, "acme"))
    assert client.get("/v1/users").status_code == 403
    assert client.get(f"/v1/users/{user.id}").status_code == 403


def test_patch_needs_the_current_etag(api: ApiHarness) -> None:
    user = create_user(api.session, UserRole.UNDERWRITER)
    client = api.client(ADMIN)
    read = client.get(f"/v1/users/{user.id}")
    assert read.headers["etag"] == 'W/"1"'
    change = {"full_name": "Renamed Underwriter"}

    missing = client.patch(f"/v1/users/{user.id}", json=change)
    assert missing.status_code == 428
    changed = client.patch(
        f"/v1/users/{user.id}", json=change, headers={"If-Match": read.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["full_name"] == "Renamed Underwriter"
    assert changed.headers["etag"] == 'W/"2"'
    stale = client.patch(
        f"/v1/users/{user.id}",
        json={"full_name": "Lost Update"},
        headers={"If-Match": read.headers["etag"]},
    )
    assert stale.status_code == 412
    assert client.get(f"/v1/users/{user.id}").json()["full_name"] == "Renamed Underwriter"
    audit = api.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "users:update", AuditEvent.target_id == str(user.id)
        )
    ).one()
    assert audit.detail == {
        "before": {"full_name": "A underwriter", "version": 1},
        "after": {"full_name": "Renamed Underwriter", "version": 2},
    }


def test_patch_moves_a_user_between_staff_and_a_tenant_consistently(api: ApiHarness) -> None:
    api.tenant("acme")
    user = create_user(api.session, UserRole.UNDERWRITER)
    client = api.client(ADMIN)
    alone = client.patch(
        f"/v1/users/{user.id}", json={"role": "policyholder"}, headers={"If-Match": 'W/"1"'}
    )
    assert alone.status_code == 422
    moved = client.patch(
        f"/v1/users/{user.id}",
        json={"role": "policyholder", "tenant": "acme"},
        headers={"If-Match": 'W/"1"'},
    )
    assert moved.status_code == 200, moved.text
    back = client.patch(
        f"/v1/users/{user.id}", json={"role": "auditor"}, headers={"If-Match": 'W/"2"'}
    )
    assert (back.json()["role"], back.json()["tenant"]) == ("auditor", None)
    assert client.get("/v1/users/" + str(uuid.uuid4())).status_code == 404


def test_disabling_a_user_revokes_its_refresh_tokens(api: ApiHarness) -> None:
    user = create_user(api.session, UserRole.UNDERWRITER)
    sign_in(api.client(), user.email)
    admin_user = create_user(api.session, UserRole.ADMIN)
    admin = Principal(admin_user.id, Role.ADMIN, None)
    client = api.client(admin)
    response = client.post(f"/v1/users/{user.id}/disable")
    assert response.status_code == 200
    assert response.json()["disabled_at"] is not None
    reasons = api.session.scalars(
        select(RefreshToken.revoked_reason).where(RefreshToken.user_id == user.id)
    ).all()
    assert reasons == ["disabled"]
    assert client.post(f"/v1/users/{admin_user.id}/disable").status_code == 409  # not oneself
