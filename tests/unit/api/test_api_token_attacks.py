"""Access tokens under attack: each forgery or misuse is refused, with its own reason."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

import pytest
from jose import jws

from cloud_api.identity.tokens import (
    JWT_TYP,
    MAX_TOKEN_CHARS,
    TokenKeys,
    TokenRejected,
    generate_signing_key,
    verify_access_token,
)
from tests.unit.api.conftest import (
    AUDIENCE,
    ISSUER,
    NOW,
    TTL,
    b64url,
    b64url_json,
    sign,
    unb64url_json,
)

REQUIRED = ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "role", "tenant", "scopes"]


def rejection(keys: TokenKeys, token: str, **overrides: Any) -> str:
    arguments: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, **overrides}
    now = arguments.pop("now", NOW)
    with pytest.raises(TokenRejected) as refused:
        verify_access_token(keys, token, now, **arguments)
    return refused.value.reason


def test_a_valid_token_is_accepted(keys: TokenKeys, token: str) -> None:
    verify_access_token(keys, token, NOW, issuer=ISSUER, audience=AUDIENCE)


def test_alg_none_is_refused(keys: TokenKeys, claims: dict[str, Any]) -> None:
    header = {"alg": "none", "typ": JWT_TYP, "kid": keys.signing.kid}
    unsigned = f"{b64url_json(header)}.{b64url_json(claims)}."
    assert rejection(keys, unsigned) == "algorithm_not_allowed"


def test_hs256_keyed_with_the_public_key_is_refused(
    keys: TokenKeys, claims: dict[str, Any]
) -> None:
    # Key confusion: a verifier that let the header pick the algorithm would check this HMAC
    # with the public key it holds for the kid, which the attacker knows too.
    header = {"alg": "HS256", "typ": JWT_TYP, "kid": keys.signing.kid}
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    mac = hmac.new(keys.signing.public_pem.encode(), signing_input.encode(), hashlib.sha256)
    assert rejection(keys, f"{signing_input}.{b64url(mac.digest())}") == "algorithm_not_allowed"


@pytest.mark.parametrize("alg", ["ES384", "ES512", "RS256", "PS256", "EdDSA", "es256", ""])
def test_every_other_algorithm_is_refused(
    keys: TokenKeys, claims: dict[str, Any], alg: str
) -> None:
    genuine = sign(claims, keys.signing)
    header = {"alg": alg, "typ": JWT_TYP, "kid": keys.signing.kid}
    forged = ".".join([b64url_json(header), *genuine.split(".")[1:]])
    assert rejection(keys, forged) == "algorithm_not_allowed"


def test_expired_is_refused(keys: TokenKeys, token: str) -> None:
    leeway = timedelta(seconds=30)
    verify_access_token(
        keys, token, NOW + TTL + leeway - timedelta(seconds=1), issuer=ISSUER, audience=AUDIENCE
    )
    assert rejection(keys, token, now=NOW + TTL + leeway, leeway=leeway) == "expired"


def test_not_yet_valid_is_refused(keys: TokenKeys, claims: dict[str, Any]) -> None:
    claims["nbf"] = claims["iat"] + 120
    assert rejection(keys, sign(claims, keys.signing)) == "not_yet_valid"


def test_issued_in_the_future_is_refused(keys: TokenKeys, claims: dict[str, Any]) -> None:
    claims["iat"] = claims["nbf"] + 120
    assert rejection(keys, sign(claims, keys.signing)) == "issued_in_future"


def test_a_clock_slightly_behind_is_within_the_leeway(keys: TokenKeys, token: str) -> None:
    verify_access_token(keys, token, NOW - timedelta(seconds=20), issuer=ISSUER, audience=AUDIENCE)
    assert rejection(keys, token, now=NOW - timedelta(seconds=31)) == "not_yet_valid"


def test_wrong_audience_is_refused(keys: TokenKeys, token: str) -> None:
    assert rejection(keys, token, audience="robocover-robot-api") == "wrong_audience"


def test_an_audience_list_is_refused(keys: TokenKeys, claims: dict[str, Any]) -> None:
    claims["aud"] = [AUDIENCE]
    assert rejection(keys, sign(claims, keys.signing)) == "invalid_claim:aud"


def test_wrong_issuer_is_refused(keys: TokenKeys, token: str) -> None:
    assert rejection(keys, token, issuer="https://evil.test") == "wrong_issuer"


def test_an_altered_payload_keeps_no_signature(keys: TokenKeys, token: str) -> None:
    header, payload, signature = token.split(".")
    claims = unb64url_json(payload)
    claims["role"] = "admin"
    assert rejection(keys, f"{header}.{b64url_json(claims)}.{signature}") == "bad_signature"


def test_a_signature_by_another_key_under_the_same_kid_is_refused(
    keys: TokenKeys, claims: dict[str, Any]
) -> None:
    impostor = generate_signing_key(kid=keys.signing.kid)
    assert rejection(keys, sign(claims, impostor)) == "bad_signature"


def test_a_truncated_signature_is_refused(keys: TokenKeys, token: str) -> None:
    assert rejection(keys, token[:-8]) == "bad_signature"


def test_an_unknown_kid_is_refused(keys: TokenKeys, claims: dict[str, Any]) -> None:
    stranger = generate_signing_key()
    assert rejection(keys, sign(claims, stranger)) == "unknown_key"


def test_a_missing_kid_is_refused(keys: TokenKeys, claims: dict[str, Any]) -> None:
    header = {"alg": "ES256", "typ": JWT_TYP}
    genuine = sign(claims, keys.signing)
    forged = ".".join([b64url_json(header), *genuine.split(".")[1:]])
    assert rejection(keys, forged) == "missing_key_id"


def test_another_type_of_jwt_is_refused(keys: TokenKeys, claims: dict[str, Any]) -> None:
    assert rejection(keys, sign(claims, keys.signing, typ="JWT")) == "wrong_type"


@pytest.mark.parametrize("name", ["jku", "jwk", "x5u", "crit"])
def test_headers_we_do_not_honour_are_refused(
    keys: TokenKeys, claims: dict[str, Any], name: str
) -> None:
    token = sign(claims, keys.signing, **{name: "https://evil.test/keys"})
    assert rejection(keys, token) == f"unexpected_header:{name}"


@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_claim_is_refused(keys: TokenKeys, claims: dict[str, Any], name: str) -> None:
    del claims[name]
    assert rejection(keys, sign(claims, keys.signing)) == f"missing_claim:{name}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("exp", "tomorrow"),
        ("exp", True),
        ("iat", 1.5),
        ("exp", 10**20),
        ("nbf", -1),
        ("sub", "not-a-uuid"),
        ("jti", "not-a-uuid"),
        ("role", "superuser"),
        ("scopes", "robots:read"),
        ("scopes", ["robots:launch"]),
        ("scopes", ["robots:read"]),  # scopes belong to service accounts only
        ("tenant", "acme"),  # staff act across tenants
        ("tenant", 7),
        ("iss", None),
    ],
)
def test_claims_of_the_wrong_type_or_value_are_refused(
    keys: TokenKeys, claims: dict[str, Any], name: str, value: object
) -> None:
    claims[name] = value
    assert rejection(keys, sign(claims, keys.signing)) == f"invalid_claim:{name}"


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b", "a.b.c.d", "!!!.???.***"],
)
def test_malformed_tokens_are_refused(keys: TokenKeys, token: str) -> None:
    assert rejection(keys, token) == "malformed"


@pytest.mark.parametrize("payload", [b"[1, 2]", b"not json", b'"a string"'])
def test_a_signed_payload_that_is_not_a_claims_object_is_refused(
    keys: TokenKeys, payload: bytes
) -> None:
    headers = {"kid": keys.signing.kid, "typ": JWT_TYP}
    token = jws.sign(payload, keys.signing.private_pem, headers=headers, algorithm="ES256")
    assert rejection(keys, token) == "malformed"


def test_an_oversized_token_is_refused_before_it_is_parsed(
    keys: TokenKeys, claims: dict[str, Any]
) -> None:
    claims["padding"] = "x" * MAX_TOKEN_CHARS  # validly signed, harmless, but too big
    assert rejection(keys, sign(claims, keys.signing)) == "malformed"
