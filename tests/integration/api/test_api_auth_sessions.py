"""Sessions through the real endpoints: sign in, refresh (rotation, reuse), sign out, password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from database.models import AuditEvent, RefreshToken, UserRole
from tests.integration.api.identity_support import (
    PASSWORD,
    bearer,
    captured_logs,
    create_user,
    isolate,
    sign_in,
)
from tests.support.api import ApiHarness


@pytest.fixture
def api(api: ApiHarness) -> ApiHarness:
    return isolate(api)


def test_sign_in_then_me_refresh_rotates_and_logout_denies_the_access_token(
    api: ApiHarness,
) -> None:
    user = create_user(api.session, UserRole.UNDERWRITER)
    client = api.client()
    pair = sign_in(client, user.email)
    assert pair["token_type"] == "bearer"
    assert 590 <= pair["expires_in"] <= 600
    assert pair["refresh_token"].startswith("rcr_")

    me = client.get("/v1/auth/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["principal"] == {
        "id": str(user.id),
        "role": "underwriter",
        "tenant": None,
        "scopes": [],
    }
    assert me.json()["user"]["email"] == user.email

    rotated = client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != pair["refresh_token"]
    rows = api.session.scalars(select(RefreshToken).where(RefreshToken.user_id == user.id)).all()
    assert len(rows) == 2
    assert len({row.family_id for row in rows}) == 1  # the successor is of the same family
    assert sum(row.spent_at is not None for row in rows) == 1

    out = client.post(
        "/v1/auth/logout",
        headers=bearer(second["access_token"]),
        json={"refresh_token": second["refresh_token"]},
    )
    assert out.status_code == 204, out.text
    refused = client.get("/v1/auth/me", headers=bearer(second["access_token"]))
    assert refused.status_code == 401
    assert "session was ended" in refused.json()["detail"]
    assert refused.headers["www-authenticate"].startswith("Bearer")
    after = client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401
    assert "revoked (logout)" in after.json()["detail"]
    # The first access token (not signed out) still works until it expires.
    assert client.get("/v1/auth/me", headers=bearer(pair["access_token"])).status_code == 200


def test_a_spent_refresh_token_presented_again_revokes_its_whole_family(api: ApiHarness) -> None:
    user = create_user(api.session, UserRole.AUDITOR)
    client = api.client()
    first = sign_in(client, user.email)
    second = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200

    with captured_logs() as logs:
        reuse = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert "already used" in reuse.json()["detail"]
    assert reuse.headers["content-type"] == "application/problem+json"
    # The descendant the thief (or the user) holds is revoked too, and that was committed.
    descendant = client.post(
        "/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
    )
    assert descendant.status_code == 401
    assert "revoked (reuse)" in descendant.json()["detail"]
    reasons = api.session.scalars(
        select(RefreshToken.revoked_reason).where(RefreshToken.user_id == user.id)
    ).all()
    assert set(reasons) == {"reuse"}
    reuse_event = api.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth:refresh_reuse")
    ).one()
    assert (reuse_event.actor_id, reuse_event.target_id) == (user.id, str(user.id))
    assert first["refresh_token"] not in logs.getvalue()
    assert first["refresh_token"].split(".")[1] not in logs.getvalue()


@pytest.mark.parametrize(
    ("refresh_token", "reason"),
    [
        ("rcr_" + "0" * 32 + "." + "A" * 43, "not known"),
        ("rcr_nothex.secret", "malformed (bad_key_id)"),
        ("rck_" + "0" * 32 + "." + "A" * 43, "malformed (wrong_kind)"),
    ],
)
def test_unknown_or_malformed_refresh_tokens_are_refused(
    api: ApiHarness, refresh_token: str, reason: str
) -> None:
    response = api.client().post("/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert response.status_code == 401
    assert reason in response.json()["detail"]


def test_an_expired_refresh_token_is_refused(api: ApiHarness) -> None:
    user = create_user(api.session, UserRole.AUDITOR)
    client = api.client()
    pair = sign_in(client, user.email)
    row = api.session.scalars(select(RefreshToken).where(RefreshToken.user_id == user.id)).one()
    row.expires_at = row.issued_at + (row.expires_at - row.issued_at) / 10**9  # ~1 ms of life
    api.session.flush()
    response = client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_refresh_token_is_not_a_bearer_credential(api: ApiHarness) -> None:
    user = create_user(api.session, UserRole.AUDITOR)
    client = api.client()
    pair = sign_in(client, user.email)
    response = client.get("/v1/auth/me", headers=bearer(pair["refresh_token"]))
    assert response.status_code == 401
    assert "/v1/auth/refresh" in response.json()["detail"]


def test_changing_the_password_ends_every_other_session(api: ApiHarness) -> None:
    user = create_user(api.session, UserRole.BILLING_AGENT)
    client = api.client()
    laptop = sign_in(client, user.email)
    phone = sign_in(client, user.email)
    new_password = "a much longer passphrase 42"

    wrong = client.post(
        "/v1/auth/password",
        headers=bearer(laptop["access_token"]),
        json={"current_password": "not it at all!", "new_password": new_password},
    )
    assert wrong.status_code == 403
    weak = client.post(
        "/v1/auth/password",
        headers=bearer(laptop["access_token"]),
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422
    assert "too_short" in weak.json()["detail"]

    changed = client.post(
        "/v1/auth/password",
        headers=bearer(laptop["access_token"]),
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    # The new pair continues this session at once, within the same second as the change.
    assert client.get("/v1/auth/me", headers=bearer(fresh["access_token"])).status_code == 200
    for old in (laptop, phone):
        me = client.get("/v1/auth/me", headers=bearer(old["access_token"]))
        assert me.status_code == 401
        assert "before the user's password changed" in me.json()["detail"]
        again = client.post("/v1/auth/refresh", json={"refresh_token": old["refresh_token"]})
        assert again.status_code == 401
    old_password = client.post(
        "/v1/auth/token", data={"username": user.email, "password": PASSWORD}
    )
    assert old_password.status_code == 401
    assert sign_in(client, user.email, new_password)["access_token"]
    actions = api.session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == str(user.id))
    ).all()
    assert "auth:password_changed" in actions


def test_logout_with_an_api_key_or_another_users_refresh_token_is_refused(
    api: ApiHarness,
) -> None:
    alice = create_user(api.session, UserRole.AUDITOR)
    bob = create_user(api.session, UserRole.AUDITOR)
    client = api.client()
    alices = sign_in(client, alice.email)
    bobs = sign_in(client, bob.email)
    response = client.post(
        "/v1/auth/logout",
        headers=bearer(alices["access_token"]),
        json={"refresh_token": bobs["refresh_token"]},
    )
    assert response.status_code == 401
    assert "not one of this user's" in response.json()["detail"]
    # Nothing was ended: Bob's session and Alice's token both still work.
    assert client.get("/v1/auth/me", headers=bearer(alices["access_token"])).status_code == 200
    bob_refresh = client.post("/v1/auth/refresh", json={"refresh_token": bobs["refresh_token"]})
    assert bob_refresh.status_code == 200


def test_a_token_issued_ahead_of_the_clock_still_ends_with_a_password_change(
    api: ApiHarness,
) -> None:
    """Tokens are never issued before the last password change, so right after one (or a
    user's creation) their iat may be a whole second ahead of the clock. A change within that
    second must still end them (found by a clean-clone run, where creation, sign-in and change
    fell in one second)."""
    user = create_user(api.session, UserRole.BILLING_AGENT)
    user.password_changed_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    api.session.flush()
    client = api.client()
    ahead = sign_in(client, user.email)
    changed = client.post(
        "/v1/auth/password",
        headers=bearer(ahead["access_token"]),
        json={"current_password": PASSWORD, "new_password": "a much longer passphrase 42"},
    )
    assert changed.status_code == 200, changed.text
    refused = client.get("/v1/auth/me", headers=bearer(ahead["access_token"]))
    assert refused.status_code == 401
    assert "before the user's password changed" in refused.json()["detail"]
    fresh = changed.json()["access_token"]
    assert client.get("/v1/auth/me", headers=bearer(fresh)).status_code == 200
