from __future__ import annotations

import math
from typing import Any

import cbor2
import pytest

from firmware_protocol import ErrorCode, ProtocolError
from firmware_protocol._cbor import dumps, loads


@pytest.mark.parametrize(
    "value",
    [
        0,
        23,
        24,
        255,
        256,
        65535,
        65536,
        2**32,
        2**64 - 1,
        -1,
        -24,
        -25,
        -(2**64),
        b"",
        b"\x00" * 300,
        "",
        "grüß",
        [],
        [1, [2, [3]]],
        {},
        {1: "a", "k": b"v"},
        True,
        False,
        None,
        1.5,
        -0.0,
        1e300,
    ],
)
def test_subset_round_trips(value: Any) -> None:
    assert loads(dumps(value)) == value


def test_half_and_single_floats() -> None:
    assert loads(bytes.fromhex("f93e00")) == 1.5
    assert loads(bytes.fromhex("fa47c35000")) == 100000.0
    assert math.isinf(loads(bytes.fromhex("f97c00")))


def test_non_shortest_integers_are_read() -> None:
    assert loads(bytes.fromhex("1b0000000000000005")) == 5


@pytest.mark.parametrize(
    ("hex_data", "code"),
    [
        ("", ErrorCode.TRUNCATED),
        ("18", ErrorCode.TRUNCATED),
        ("19ff", ErrorCode.TRUNCATED),
        ("1aff", ErrorCode.TRUNCATED),
        ("1bff", ErrorCode.TRUNCATED),
        ("1c", ErrorCode.MALFORMED),
        ("1f", ErrorCode.MALFORMED),
        ("5f4100ff", ErrorCode.MALFORMED),
        ("5bffffffffffffffff", ErrorCode.TRUNCATED),
        ("9bffffffffffffffff", ErrorCode.TRUNCATED),
        ("bbffffffffffffffff", ErrorCode.TRUNCATED),
        ("62c328", ErrorCode.MALFORMED),
        ("c100", ErrorCode.MALFORMED),
        ("c5821b7fffffffffffffff01", ErrorCode.MALFORMED),
        ("f7", ErrorCode.MALFORMED),
        ("f820", ErrorCode.MALFORMED),
        ("fb0000", ErrorCode.TRUNCATED),
        ("a200010000", ErrorCode.MALFORMED),
        ("a2000100", ErrorCode.TRUNCATED),
        ("a1f600", ErrorCode.MALFORMED),
        ("a1410000", ErrorCode.MALFORMED),
        ("0000", ErrorCode.TRAILING_BYTES),
        ("81" * 9 + "00", ErrorCode.LIMIT_EXCEEDED),
    ],
)
def test_refusals(hex_data: str, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        loads(bytes.fromhex(hex_data))
    assert caught.value.code is code


def test_item_count_limit() -> None:
    data = cbor2.dumps([[0] * 5000] * 4)
    with pytest.raises(ProtocolError) as caught:
        loads(data)
    assert caught.value.code is ErrorCode.LIMIT_EXCEEDED


def test_depth_limit_allows_eight() -> None:
    assert loads(bytes.fromhex("81" * 8 + "00")) == [[[[[[[[0]]]]]]]]
