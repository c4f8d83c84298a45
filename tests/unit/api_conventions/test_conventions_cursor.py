"""Pagination cursors: typed values survive the round trip; any alteration is refused."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest

from cloud_api.conventions import CursorSigner, InvalidCursorError, Sort
from cloud_api.conventions.pagination import MAC_BYTES

KEY = b"unit-test-cursor-key-of-32-bytes!"
NEWEST = Sort("created_at", descending=True)


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.date(2025, 3, 1),
        uuid.UUID("6f1d3c0e-8d4b-4f7a-9c2e-5b1a0d9e7f33"),
        Decimal("1234.5600"),
        42,
        -3.25,
        "lapsed",
        True,
    ],
)
def test_a_key_comes_back_with_its_type(value: object) -> None:
    signer = CursorSigner(KEY)
    row_id = uuid.uuid4()
    cursor = signer.encode("policies", NEWEST, (value, row_id))
    decoded = signer.decode(cursor, "policies", NEWEST)
    assert decoded == (value, row_id)
    assert type(decoded[0]) is type(value)
    assert "=" not in cursor  # base64url without padding: safe in a query string


def test_every_altered_byte_is_detected() -> None:
    signer = CursorSigner(KEY)
    raw = base64.urlsafe_b64decode(signer.encode("policies", NEWEST, (7, 8)) + "==")
    for position in range(len(raw)):
        altered = bytearray(raw)
        altered[position] ^= 0x20
        cursor = base64.urlsafe_b64encode(bytes(altered)).decode().rstrip("=")
        with pytest.raises(InvalidCursorError, match="signature does not match"):
            signer.decode(cursor, "policies", NEWEST)


def test_a_cursor_signed_under_another_key_is_refused() -> None:
    cursor = CursorSigner(b"another-server-key-of-32-bytes!!!").encode("policies", NEWEST, (1, 2))
    with pytest.raises(InvalidCursorError, match="signature does not match"):
        CursorSigner(KEY).decode(cursor, "policies", NEWEST)


def test_a_cursor_of_another_resource_or_sort_is_refused() -> None:
    signer = CursorSigner(KEY)
    cursor = signer.encode("claims", NEWEST, (1, 2))
    with pytest.raises(InvalidCursorError, match="issued for claims, not policies"):
        signer.decode(cursor, "policies", NEWEST)
    with pytest.raises(
        InvalidCursorError, match="issued for sort=-created_at, not sort=created_at"
    ):
        signer.decode(cursor, "claims", Sort("created_at", descending=False))


def test_a_signed_payload_of_another_shape_is_an_older_format() -> None:
    signer = CursorSigner(KEY)
    payload = json.dumps({"r": "policies", "s": "-created_at", "k": [1]}).encode()
    cursor = base64.urlsafe_b64encode(payload + signer._mac(payload)).decode().rstrip("=")
    with pytest.raises(InvalidCursorError, match="older format"):
        signer.decode(cursor, "policies", NEWEST)


@pytest.mark.parametrize("cursor", ["", "Zm9v", "%%%", "A" * (MAC_BYTES * 2)])
def test_garbage_is_an_invalid_cursor_not_a_crash(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        CursorSigner(KEY).decode(cursor, "policies", NEWEST)


def test_a_short_key_is_refused_when_the_app_is_built() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        CursorSigner(b"short")


def test_a_value_json_cannot_carry_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="cannot put a bytes in a cursor"):
        CursorSigner(KEY).encode("policies", NEWEST, (b"raw", 1))
