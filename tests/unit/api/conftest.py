"""Fixtures for the identity and access tests: real P-256 keys, a fixed clock, token crafting."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jose import jwt

from cloud_api.access.roles import Principal, Role
from cloud_api.identity.tokens import (
    ES256,
    JWT_TYP,
    SigningKey,
    TokenKeys,
    generate_signing_key,
    issue_access_token,
)

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
TTL = timedelta(minutes=10)
ISSUER = "https://api.robocover.test"
AUDIENCE = "robocover-insurer-api"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: object) -> str:
    return b64url(json.dumps(value).encode())


def unb64url_json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def sign(claims: dict[str, Any], key: SigningKey, **header: Any) -> str:
    """A token signed with the key, as the issuer would, but with any claims and header."""
    headers = {"kid": key.kid, "typ": JWT_TYP, **header}
    return jwt.encode(claims, key.private_pem, algorithm=ES256, headers=headers)


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture(scope="session")
def keys(signing_key: SigningKey) -> TokenKeys:
    return TokenKeys(signing_key)


@pytest.fixture
def underwriter() -> Principal:
    return Principal(uuid.uuid4(), Role.UNDERWRITER, None)


@pytest.fixture
def token(keys: TokenKeys, underwriter: Principal) -> str:
    issued, _ = issue_access_token(keys, underwriter, NOW, TTL, issuer=ISSUER, audience=AUDIENCE)
    return issued


@pytest.fixture
def claims(token: str) -> dict[str, Any]:
    """The claims of a valid token, to alter and sign again."""
    return dict(jwt.get_unverified_claims(token))
