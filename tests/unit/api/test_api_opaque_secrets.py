"""Refresh tokens and API keys: their format, parsing, and constant-time comparison."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from cloud_api.identity.opaque_secrets import (
    MalformedSecret,
    SecretKind,
    issue_secret,
    parse_secret,
    secret_matches,
)

KEY_ID = uuid.UUID("6f1c2b1e-8d3a-4f5e-9b7c-2a1d0e9f8c7b")
SECRET = "A" * 21 + "b_-" + "9" * 19  # 43 characters of the base64url alphabet


@pytest.mark.parametrize("kind", list(SecretKind))
def test_an_issued_secret_parses_back_and_matches_its_digest(kind: SecretKind) -> None:
    issued = issue_secret(kind)
    assert issued.text.startswith(f"{kind.value}{issued.key_id.hex}.")
    presented = parse_secret(issued.text, kind)
    assert (presented.kind, presented.key_id) == (kind, issued.key_id)
    assert secret_matches(presented, issued.digest)


def test_the_digest_is_sha256_of_the_secret_part() -> None:
    issued = issue_secret(SecretKind.API_KEY)
    secret = issued.text.partition(".")[2]
    assert issued.digest == hashlib.sha256(secret.encode()).digest()


def test_secrets_are_distinct() -> None:
    assert len({issue_secret(SecretKind.REFRESH_TOKEN).text for _ in range(20)}) == 20


def test_a_wrong_secret_or_a_missing_row_does_not_match() -> None:
    issued = issue_secret(SecretKind.REFRESH_TOKEN)
    other = parse_secret(issue_secret(SecretKind.REFRESH_TOKEN).text, SecretKind.REFRESH_TOKEN)
    assert not secret_matches(other, issued.digest)
    assert not secret_matches(parse_secret(issued.text, SecretKind.REFRESH_TOKEN), None)


def test_a_parsed_secret_matches_the_digest_of_its_secret_part() -> None:
    presented = parse_secret(f"rck_{KEY_ID.hex}.{SECRET}", SecretKind.API_KEY)
    assert secret_matches(presented, hashlib.sha256(SECRET.encode()).digest())
    assert not secret_matches(presented, hashlib.sha256(SECRET.lower().encode()).digest())


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"rcr_{KEY_ID.hex}.{SECRET}", "wrong_kind"),
        (f"ghp_{KEY_ID.hex}.{SECRET}", "unknown_prefix"),
        (f"RCK_{KEY_ID.hex}.{SECRET}", "unknown_prefix"),
        ("", "unknown_prefix"),
        (f"rck_{KEY_ID.hex}{SECRET}", "missing_separator"),
        (f"rck_{KEY_ID}.{SECRET}", "bad_key_id"),  # dashed UUID
        (f"rck_{KEY_ID.hex.upper()}.{SECRET}", "bad_key_id"),
        (f"rck_{KEY_ID.hex[:-1]}.{SECRET}", "bad_key_id"),
        (f"rck_.{SECRET}", "bad_key_id"),
        (f"rck_{KEY_ID.hex}.", "bad_secret"),
        (f"rck_{KEY_ID.hex}.{SECRET[:-1]}", "bad_secret"),
        (f"rck_{KEY_ID.hex}.{SECRET[:-1]}=", "bad_secret"),
        (f"rck_{KEY_ID.hex}.{SECRET[:-1]}+", "bad_secret"),
        (f"rck_{KEY_ID.hex}.{SECRET[:40]}.{SECRET[:2]}", "bad_secret"),
        (f"rck_{KEY_ID.hex}.{SECRET}x", "bad_secret"),
        (f"rck_{KEY_ID.hex}.{SECRET}\n", "bad_secret"),
        ("rck_" + "a" * 10_000, "too_long"),
    ],
)
def test_malformed_input_is_refused_precisely(text: str, reason: str) -> None:
    with pytest.raises(MalformedSecret) as refused:
        parse_secret(text, SecretKind.API_KEY)
    assert refused.value.reason == reason


def test_the_secret_stays_out_of_reprs() -> None:
    issued = issue_secret(SecretKind.API_KEY)
    secret = issued.text.partition(".")[2]
    assert secret not in repr(issued)
    assert secret not in repr(parse_secret(issued.text, SecretKind.API_KEY))
