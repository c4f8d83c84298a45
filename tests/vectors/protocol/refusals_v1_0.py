"""Golden vectors a conforming decoder refuses, as protocol 1.0 (and 1.1) defined them: the frame,
the CBOR body, the telemetry fields and blocks, and the JSON debug form.

The refusals 1.2 added are in refusals.py, the precedence between errors in precedence.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cbor2
import zstandard

from firmware_protocol import encode
from tests.vectors.protocol.content import (
    SIGNER,
    Vector,
    body_of,
    config_body,
    frame,
    offline_body,
    telemetry,
    typical_batch,
)


def _bad_body(mutate: Callable[[dict[Any, Any]], Any], *, raw: bool = True) -> bytes:
    body = body_of(encode(telemetry(), SIGNER, compress=not raw))
    result = mutate(body)
    return frame(1, result if isinstance(result, bytes) else cbor2.dumps(body))


def _bomb(body: dict[Any, Any]) -> None:
    body[16] = [1, 1, zstandard.ZstdCompressor().compress(bytes(1 << 20))]


def refusals_v1_0() -> list[Vector]:
    good = encode(typical_batch(), SIGNER)
    status_body = offline_body()
    e = Vector
    return [
        e("err_empty", "zero bytes", b"", "TRUNCATED"),
        e("err_bad_magic", "not RC", b"XC" + good[2:], "BAD_MAGIC"),
        e("err_short_header", "5 bytes of header", good[:5], "TRUNCATED"),
        e(
            "err_major_2",
            "major version 2",
            good[:2] + b"\x02" + good[3:],
            "UNSUPPORTED_MAJOR_VERSION",
        ),
        e("err_unknown_kind", "kind 9", good[:4] + b"\x09" + good[5:], "UNKNOWN_KIND"),
        e("err_reserved_flag", "flag bit 1 set", good[:5] + b"\x03" + good[6:], "BAD_FIELD"),
        e("err_truncated", "last byte missing", good[:-1], "TRUNCATED"),
        e("err_trailing", "one byte too many", good + b"\x00", "TRAILING_BYTES"),
        e(
            "err_unsigned_telemetry",
            "telemetry without signature",
            frame(1, good[10:-64], flags=0, sign=False),
            "UNSIGNED",
        ),
        e("err_body_not_map", "body is an array", frame(1, cbor2.dumps([1, 2])), "MALFORMED"),
        e(
            "err_cbor_tag",
            "a CBOR tag in the body",
            frame(4, cbor2.dumps(status_body | {45: cbor2.CBORTag(1, 0)})),
            "MALFORMED",
        ),
        e("err_indefinite", "indefinite-length map", frame(4, b"\xbf\x00\x01\xff"), "MALFORMED"),
        e("err_duplicate_key", "key 0 twice", frame(4, b"\xa2\x00\x01\x00\x02"), "MALFORMED"),
        e(
            "err_cbor_truncated",
            "byte string longer than the body",
            frame(4, b"\xa1\x00\x5a\xff\xff\xff\xff"),
            "TRUNCATED",
        ),
        e("err_cbor_trailing", "bytes after the body map", frame(4, b"\xa0\x00"), "TRAILING_BYTES"),
        e(
            "err_too_deep",
            "arrays nested 9 deep",
            frame(4, b"\xa1\x18\x63" + b"\x81" * 9 + b"\x00"),
            "LIMIT_EXCEEDED",
        ),
        e(
            "err_missing_seq",
            "telemetry without seq",
            _bad_body(lambda b: b.pop(2)),
            "MISSING_FIELD",
        ),
        e("err_seq_negative", "seq -1", _bad_body(lambda b: b.update({2: -1})), "BAD_FIELD"),
        e("err_seq_text", "seq as text", _bad_body(lambda b: b.update({2: "5"})), "BAD_FIELD"),
        e(
            "err_unknown_field_same_minor",
            "unknown key 99 at minor 0",
            _bad_body(lambda b: b.update({99: 0})),
            "UNKNOWN_FIELD",
        ),
        e(
            "err_bad_uuid",
            "robot id of 15 bytes",
            _bad_body(lambda b: b.update({0: bytes(15)})),
            "BAD_FIELD",
        ),
        e(
            "err_width_3",
            "value block width 3",
            _bad_body(lambda b: b.update({16: [0, 3, b"\x00" * 6]})),
            "BAD_FIELD",
        ),
        e(
            "err_codec_7",
            "unknown block codec 7",
            _bad_body(lambda b: b.update({16: [7, 1, b"\x00\x00"]})),
            "UNSUPPORTED_ENCODING",
        ),
        e(
            "err_block_size",
            "raw value block one byte short",
            _bad_body(lambda b: b.update({16: [0, 1, b"\x00"]})),
            "BAD_FIELD",
        ),
        e("err_zstd_bomb", "value block declares 1 MiB", _bad_body(_bomb), "DECOMPRESSION_BOMB"),
        e(
            "err_zstd_garbage",
            "value block is not zstd",
            _bad_body(lambda b: b.update({16: [1, 1, bytes.fromhex("28b52ffd2002ee00000001")]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_time_backwards",
            "second timestamp before the first",
            _bad_body(lambda b: b.update({11: [0, 1, b"\x00\xff"]})),
            "BAD_FIELD",
        ),
        e("err_exponent", "exponent 12", _bad_body(lambda b: b.update({14: b"\x0c"})), "BAD_FIELD"),
        e(
            "err_metric_name",
            "vendor name without x_ prefix",
            _bad_body(lambda b: b.update({12: ["acme_force"]})),
            "BAD_FIELD",
        ),
        e(
            "err_genesis_prev",
            "seq 0 with a non-zero prev_digest",
            _bad_body(lambda b: b.update({2: 0})),
            "BAD_FIELD",
        ),
        e(
            "err_json_major_2",
            "JSON form of major 2",
            b'{"rc":"2.0","kind":"ack"}',
            "UNSUPPORTED_MAJOR_VERSION",
        ),
        e("err_json_syntax", "broken JSON", b'{"rc":"1.0",', "MALFORMED"),
        e("err_json_nan", "NaN in JSON", b'{"rc":"1.0","kind":"ack","wall_us":NaN}', "MALFORMED"),
        e("err_json_kind", "unknown JSON kind", b'{"rc":"1.0","kind":"selfie"}', "UNKNOWN_KIND"),
        e(
            "err_v1_1_field_at_minor_0",
            "config key 56 (read_interval_ms, 1.1) in a minor 0 frame",
            frame(5, cbor2.dumps(config_body() | {56: 100}), flags=0, sign=False),
            "UNKNOWN_FIELD",
        ),
    ]
