"""What the real endpoints refuse: wrong credentials, backoff and lockout, foreign or stale
tokens, disabled users, and a denylist that cannot be read."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt
from pydantic import SecretStr
from sqlalchemy.orm import Session

from cloud_api.access.roles import Principal, Role
from cloud_api.app import create_app
from cloud_api.identity.tokens import (
    JWT_TYP,
    SigningKey,
    TokenKeys,
    generate_signing_key,
    issue_access_token,
)
from cloud_api.settings import ApiSettings, RetiredJwtKey
from database.models import UserRole
from tests.integration.api.identity_support import (
    PASSWORD,
    bearer,
    captured_logs,
    create_user,
    email,
    isolate,
    sign_in,
)
from tests.support.api import ApiHarness


@pytest.fixture
def api(api: ApiHarness) -> ApiHarness:
    return isolate(api)


@pytest.fixture
def signing_key(api_settings: ApiSettings) -> SigningKey:
    """The key the app under test signs with."""
    return SigningKey(api_settings.jwt_key_id, api_settings.jwt_signing_key.get_secret_value())


@pytest.fixture
def strict(api_settings: ApiSettings, db_session: Session) -> Iterator[ApiHarness]:
    """The app with a lockout after two failures (one free) of one email."""
    settings = api_settings.model_copy(
        update={"sign_in_free_failures": 1, "sign_in_lock_after": 2, "sign_in_lock_minutes": 1}
    )
    harness = isolate(ApiHarness(create_app(settings), db_session))
    harness.install_session()
    yield harness
    harness.close()


def _attempt(harness: ApiHarness, address: str, password: str) -> tuple[int, dict[str, str]]:
    response = harness.client().post(
        "/v1/auth/token", data={"username": address, "password": password}
    )
    return response.status_code, dict(response.headers) | {"detail": response.json().get("detail")}


def test_unknown_email_and_wrong_password_answer_alike_and_take_alike_time(
    api: ApiHarness,
) -> None:
    user = create_user(api.session, UserRole.UNDERWRITER)
    client = api.client()
    timings: dict[str, list[float]] = {"unknown": [], "wrong": []}
    answers = {}
    with captured_logs() as logs:
        for _ in range(3):  # three of each, below the free failures of a fresh email
            for kind, address in (("unknown", email("nobody")), ("wrong", user.email)):
                started = time.perf_counter()
                response = client.post(
                    "/v1/auth/token", data={"username": address, "password": "not the password"}
                )
                timings[kind].append(time.perf_counter() - started)
                answers[kind] = (
                    response.status_code,
                    response.json()["detail"],
                    response.headers["www-authenticate"],
                )
    assert "sign-in refused" in logs.getvalue()
    assert "not the password" not in logs.getvalue()
    assert answers["unknown"] == answers["wrong"]
    assert answers["wrong"][0] == 401
    unknown, wrong = (statistics.median(timings[kind]) for kind in ("unknown", "wrong"))
    # Without the dummy verification an unknown email answers ~50x faster than argon2id.
    assert 0.5 < unknown / wrong < 2.0, timings


def test_backoff_then_lockout_answer_429_with_retry_after_even_to_the_right_password(
    strict: ApiHarness,
) -> None:
    user = create_user(strict.session, UserRole.UNDERWRITER)
    assert _attempt(strict, user.email, "wrong password 1")[0] == 401  # free
    assert _attempt(strict, user.email, "wrong password 2")[0] == 401  # locks
    status, headers = _attempt(strict, user.email, PASSWORD)
    assert status == 429
    assert 55 <= int(headers["retry-after"]) <= 60
    assert "too many failed sign-ins" in headers["detail"]
    # An unknown email is locked the same way: the answer does not say who exists.
    nobody = email("nobody")
    _attempt(strict, nobody, "x" * 12)
    _attempt(strict, nobody, "x" * 12)
    unknown_status, unknown_headers = _attempt(strict, nobody, "x" * 12)
    assert (unknown_status, unknown_headers["detail"]) == (status, headers["detail"])
    # Another user from the same address is not locked out by it.
    other = create_user(strict.session, UserRole.AUDITOR)
    assert _attempt(strict, other.email, PASSWORD)[0] == 200


def test_backoff_passes_and_a_success_clears_the_email(api: ApiHarness) -> None:
    user = create_user(api.session, UserRole.UNDERWRITER)
    for _ in range(4):  # three free failures, then a one-second backoff
        assert _attempt(api, user.email, "wrong password!")[0] == 401
    status, headers = _attempt(api, user.email, PASSWORD)
    assert (status, headers["retry-after"]) == (429, "1")
    time.sleep(1.1)
    assert _attempt(api, user.email, PASSWORD)[0] == 200
    assert _attempt(api, user.email, "wrong password!")[0] == 401  # free again: state cleared


def test_a_disabled_user_can_neither_sign_in_nor_use_its_tokens(api: ApiHarness) -> None:
    user = create_user(api.session, UserRole.CLAIMS_ADJUSTER)
    client = api.client()
    pair = sign_in(client, user.email)
    admin = Principal(uuid.uuid4(), Role.ADMIN, None)
    disabled = api.client(admin).post(f"/v1/users/{user.id}/disable")
    assert disabled.status_code == 200, disabled.text
    client = api.client()
    me = client.get("/v1/auth/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 401
    assert "disabled" in me.json()["detail"]
    refresh = client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    status, headers = _attempt(api, user.email, PASSWORD)  # the right password
    assert (status, headers["detail"]) == (401, "the email or the password is not correct")


def _token(
    keys: TokenKeys,
    principal: Principal,
    *,
    issuer: str = "robocover",
    audience: str = "robocover-insurer-api",
    now: datetime | None = None,
) -> str:
    # By default a second ahead: past the whole second of the user's password_changed_at, as
    # the API's own sign-in issues them (sign_in.py).
    issued = now or datetime.now(UTC) + timedelta(seconds=1)
    token, _ = issue_access_token(
        keys, principal, issued, timedelta(minutes=10), issuer=issuer, audience=audience
    )
    return token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(key: SigningKey, claims: dict[str, object]) -> str:
    """Key confusion: HS256 keyed with the verifier's public key (signed by hand: jose
    itself refuses to use an asymmetric key as an HMAC secret)."""
    header = {"alg": "HS256", "typ": JWT_TYP, "kid": key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(key.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def test_foreign_expired_or_forged_tokens_are_refused_with_their_reason(
    api: ApiHarness, signing_key: SigningKey
) -> None:
    user = create_user(api.session, UserRole.UNDERWRITER)
    principal = Principal(user.id, Role.UNDERWRITER, None)
    ours = TokenKeys(signing_key)
    valid = _token(ours, principal)
    claims = jwt.get_unverified_claims(valid)
    cases = {
        "wrong_issuer": _token(ours, principal, issuer="https://evil.example"),
        "wrong_audience": _token(ours, principal, audience="another-api"),
        "expired": _token(ours, principal, now=datetime.now(UTC) - timedelta(hours=1)),
        "unknown_key": _token(TokenKeys(generate_signing_key()), principal),
        "algorithm_not_allowed": _hs256_with_public_key(signing_key, claims),
        "malformed": "not.a.token",
    }
    client = api.client()
    assert client.get("/v1/auth/me", headers=bearer(valid)).status_code == 200
    for reason, token in cases.items():
        response = client.get("/v1/auth/me", headers=bearer(token))
        assert response.status_code == 401, reason
        assert response.json()["detail"] == f"the access token is refused: {reason}"
        assert token not in response.text


def test_a_token_for_a_user_that_does_not_exist_is_refused(
    api: ApiHarness, signing_key: SigningKey
) -> None:
    stranger = Principal(uuid.uuid4(), Role.ADMIN, None)
    response = api.client().get(
        "/v1/auth/me", headers=bearer(_token(TokenKeys(signing_key), stranger))
    )
    assert response.status_code == 401
    assert "does not exist" in response.json()["detail"]


def test_no_credential_is_401_with_a_bearer_challenge(api: ApiHarness) -> None:
    response = api.client().get("/v1/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="robocover", error="invalid_request"'
    )


def test_tokens_of_a_retired_key_stay_valid_after_rotation(
    api_settings: ApiSettings, db_session: Session, signing_key: SigningKey
) -> None:
    new_key = generate_signing_key()
    rotated = api_settings.model_copy(
        update={
            "jwt_signing_key": SecretStr(new_key.private_pem),
            "jwt_key_id": new_key.kid,
            "jwt_retired_public_keys": [
                RetiredJwtKey(kid=signing_key.kid, public_pem=signing_key.public_pem)
            ],
        }
    )
    harness = isolate(ApiHarness(create_app(rotated), db_session))
    harness.install_session()
    try:
        user = create_user(db_session, UserRole.AUDITOR)
        old = _token(TokenKeys(signing_key), Principal(user.id, Role.AUDITOR, None))
        client = harness.client()
        assert client.get("/v1/auth/me", headers=bearer(old)).status_code == 200
        fresh = sign_in(client, user.email)["access_token"]
        assert jwt.get_unverified_header(fresh)["kid"] == new_key.kid
    finally:
        harness.close()


def test_the_denylist_fails_closed_when_redis_is_down(
    api_settings: ApiSettings, db_session: Session, signing_key: SigningKey
) -> None:
    down = api_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/15"})
    harness = ApiHarness(create_app(down), db_session)
    harness.install_session()
    try:
        user = create_user(db_session, UserRole.AUDITOR)
        token = _token(TokenKeys(signing_key), Principal(user.id, Role.AUDITOR, None))
        response = harness.client().get("/v1/auth/me", headers=bearer(token))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        sign_in_attempt = harness.client().post(
            "/v1/auth/token", data={"username": user.email, "password": PASSWORD}
        )
        assert sign_in_attempt.status_code == 503
    finally:
        harness.close()
