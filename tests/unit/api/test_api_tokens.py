"""Issuing access tokens, reading them back, and rotating the signing key."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jose import jwk, jwt

from cloud_api.access.actions import Action
from cloud_api.access.roles import Principal, Role
from cloud_api.identity.tokens import (
    JWT_TYP,
    SigningKey,
    TokenKeys,
    TokenRejected,
    VerificationKey,
    generate_signing_key,
    issue_access_token,
    private_key_pem,
    verify_access_token,
)
from tests.unit.api.conftest import AUDIENCE, ISSUER, NOW, TTL, b64url


def issue(keys: TokenKeys, principal: Principal, now: datetime = NOW) -> str:
    token, _ = issue_access_token(keys, principal, now, TTL, issuer=ISSUER, audience=AUDIENCE)
    return token


def verify(keys: TokenKeys, token: str, now: datetime = NOW) -> Principal:
    return verify_access_token(keys, token, now, issuer=ISSUER, audience=AUDIENCE).principal


def test_the_token_carries_every_claim_and_the_header_names_the_key(
    keys: TokenKeys, underwriter: Principal
) -> None:
    token, issued = issue_access_token(
        keys, underwriter, NOW, TTL, issuer=ISSUER, audience=AUDIENCE
    )
    assert jwt.get_unverified_header(token) == {
        "alg": "ES256",
        "typ": JWT_TYP,
        "kid": keys.signing.kid,
    }
    assert jwt.get_unverified_claims(token) == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(underwriter.id),
        "iat": int(NOW.timestamp()),
        "nbf": int(NOW.timestamp()),
        "exp": int((NOW + TTL).timestamp()),
        "jti": str(issued.token_id),
        "role": "underwriter",
        "tenant": None,
        "scopes": [],
    }
    assert verify_access_token(keys, token, NOW, issuer=ISSUER, audience=AUDIENCE) == issued


@pytest.mark.parametrize(
    "principal",
    [
        Principal(uuid.uuid4(), Role.AUDITOR, None),
        Principal(uuid.uuid4(), Role.POLICYHOLDER, "acme-logistics"),
        Principal(
            uuid.uuid4(),
            Role.SERVICE,
            "acme-logistics",
            frozenset({Action.ROBOTS_READ, Action.CLAIMS_CREATE}),
        ),
    ],
)
def test_the_principal_comes_back_as_it_was(keys: TokenKeys, principal: Principal) -> None:
    assert verify(keys, issue(keys, principal)) == principal


def test_each_token_has_its_own_id(keys: TokenKeys, underwriter: Principal) -> None:
    ids = {
        issue_access_token(keys, underwriter, NOW, TTL, issuer=ISSUER, audience=AUDIENCE)[
            1
        ].token_id
        for _ in range(5)
    }
    assert len(ids) == 5


def test_issuing_refuses_a_naive_time_or_a_useless_lifetime(
    keys: TokenKeys, underwriter: Principal
) -> None:
    with pytest.raises(ValueError, match="timezone"):
        issue(keys, underwriter, now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="second"):
        issue_access_token(keys, underwriter, NOW, timedelta(0), issuer=ISSUER, audience=AUDIENCE)


def test_two_keys_are_valid_during_a_rotation(underwriter: Principal) -> None:
    old, new = generate_signing_key(), generate_signing_key()
    before = TokenKeys(old)
    during = TokenKeys(new, retired=(old.verification_key(),))
    after = TokenKeys(new)
    old_token, new_token = issue(before, underwriter), issue(during, underwriter)
    assert verify(during, old_token) == underwriter
    assert verify(during, new_token) == underwriter
    assert verify(after, new_token) == underwriter
    with pytest.raises(TokenRejected) as refused:
        verify(after, old_token)
    assert refused.value.reason == "unknown_key"
    assert during.kids == {old.kid, new.kid}


def test_a_retired_key_cannot_sign(underwriter: Principal) -> None:
    old, new = generate_signing_key(), generate_signing_key()
    during = TokenKeys(new, retired=(old.verification_key(),))
    assert jwt.get_unverified_header(issue(during, underwriter))["kid"] == new.kid


def test_two_keys_may_not_share_a_kid() -> None:
    key = generate_signing_key()
    other = generate_signing_key(kid=key.kid)
    with pytest.raises(ValueError, match="share a kid"):
        TokenKeys(key, retired=(other.verification_key(),))


def test_the_default_kid_is_the_rfc_7638_thumbprint() -> None:
    # Computed independently: jose's JWK of the public key, its required members in
    # canonical JSON (sorted, no whitespace), SHA-256, base64url.
    key = generate_signing_key()
    as_jwk = jwk.construct(key.public_pem, "ES256").to_dict()
    required = {name: as_jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
    assert key.kid == b64url(hashlib.sha256(canonical).digest())


def test_keys_other_than_p256_are_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="P-256"):
        SigningKey("k1", private_key_pem(p384))
    edwards = ed25519.Ed25519PrivateKey.generate().public_key()
    public_pem = edwards.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(ValueError, match="P-256"):
        VerificationKey("k2", public_pem)


@pytest.mark.parametrize("kid", ["", "x" * 129, "clé", "a\nb"])
def test_unusable_kids_are_refused(kid: str) -> None:
    with pytest.raises(ValueError, match="key id"):
        generate_signing_key(kid=kid)


def test_the_private_key_stays_out_of_reprs() -> None:
    key = generate_signing_key()
    assert "PRIVATE" not in repr(key)
    assert "PRIVATE" not in repr(TokenKeys(key))
