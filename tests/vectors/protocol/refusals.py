"""Golden vectors of protocol 1.2: a refusal for every bound, field rule, value type and block
rule it added, and the payloads judged against a topic (docs/protocol.md sections 2, 4, 5.1, 6).

With refusals_v1_0.py and precedence.py, the manifest holds a refusal for every error code.
"""

from __future__ import annotations

import struct
from typing import Any

import cbor2

from firmware_protocol import encode
from tests.support.attacks import rle_bomb_frame
from tests.vectors.protocol.content import (
    MONO,
    ROBOT,
    SIGNER,
    TIME_MAX,
    UINT_MAX,
    WALL,
    Vector,
    config_body,
    drop_body,
    events_body,
    frame,
    heartbeat_body,
    offline_body,
    status_body,
    tele,
    telemetry,
    telemetry_body,
    zstd,
)


def refusals() -> list[Vector]:
    """A refusal for each bound, field rule, value type and block rule of 1.2."""
    e = Vector
    zero_status = offline_body()
    return [
        # ------------------------------------------------ bounds of 1.2
        e(
            "err_mono_beyond_2_54",
            "mono_us 2**54 + 1",
            tele(telemetry_body({5: TIME_MAX + 1})),
            "BAD_FIELD",
        ),
        e(
            "err_wall_beyond_2_54",
            "wall_us -(2**54) - 1",
            tele(telemetry_body({4: -TIME_MAX - 1})),
            "BAD_FIELD",
        ),
        e("err_seq_2_63", "seq 2**63", tele(telemetry_body({2: UINT_MAX + 1})), "BAD_FIELD"),
        e(
            "err_t_base_beyond_2_54",
            "t_base 2**54 + 1",
            tele(telemetry_body({10: TIME_MAX + 1})),
            "BAD_FIELD",
        ),
        e(
            "err_timestamp_beyond_2_54",
            "t_base 2**54, second timestamp one later",
            tele(telemetry_body({10: TIME_MAX, 11: [0, 1, b"\x00\x01"]})),
            "BAD_FIELD",
        ),
        e(
            "err_dropped_bytes_2_63",
            "drop notice dropped_bytes 2**63",
            frame(3, cbor2.dumps(drop_body({35: UINT_MAX + 1}))),
            "BAD_FIELD",
        ),
        e(
            "err_state_0",
            "status state 0",
            frame(4, cbor2.dumps(zero_status | {40: 0})),
            "BAD_FIELD",
        ),
        e("err_metric_code_0", "metric code 0", tele(telemetry_body({12: [0]})), "BAD_FIELD"),
        e(
            "err_metric_code_65536",
            "metric code 65536",
            tele(telemetry_body({12: [65536]})),
            "BAD_FIELD",
        ),
        e(
            "err_drop_reason_0",
            "drop reason 0",
            frame(3, cbor2.dumps(drop_body({34: 0}))),
            "BAD_FIELD",
        ),
        # ------------------------------------------------ arrays, required and conditional fields
        e(
            "err_events_empty",
            "no event",
            frame(2, cbor2.dumps(events_body([]))),
            "LIMIT_EXCEEDED",
        ),
        e(
            "err_collectors_empty",
            "config collectors []",
            frame(5, cbor2.dumps(config_body({57: []})), minor=1, flags=0, sign=False),
            "LIMIT_EXCEEDED",
        ),
        e(
            "err_committed_empty",
            "ack committed []",
            frame(6, cbor2.dumps({0: ROBOT.bytes, 4: WALL, 60: []}), flags=0, sign=False),
            "LIMIT_EXCEEDED",
        ),
        e(
            "err_birth_without_next_seq",
            "ONLINE status without next_seq",
            frame(4, cbor2.dumps({k: v for k, v in status_body().items() if k != 43})),
            "MISSING_FIELD",
        ),
        e(
            "err_key_rotated_without_key",
            "KEY_ROTATED event without public_key",
            frame(2, cbor2.dumps(events_body([{0: 11, 1: MONO, 4: "3"}])), minor=2),
            "MISSING_FIELD",
        ),
        e(
            "err_credentials_without_rotation_id",
            "config rotation_credentials without rotation_id",
            frame(5, cbor2.dumps(config_body({59: bytes(64)})), minor=2, flags=0, sign=False),
            "MISSING_FIELD",
        ),
        e(
            "err_head_digest_without_next_seq",
            "status head_digest without next_seq (OFFLINE)",
            frame(4, cbor2.dumps(zero_status | {49: bytes(32)}), minor=2),
            "MISSING_FIELD",
        ),
        e(
            "err_v1_2_field_at_minor_1",
            "status key 48 (connection_seq, 1.2) in a minor 1 frame",
            frame(4, cbor2.dumps(zero_status | {48: 1}), minor=1),
            "UNKNOWN_FIELD",
        ),
        e("err_null_required", "seq null", tele(telemetry_body({2: None})), "MISSING_FIELD"),
        # ------------------------------------------------ value types
        e("err_seq_true", "seq true", tele(telemetry_body({2: True})), "BAD_FIELD"),
        e(
            "err_value_nan",
            "event value NaN",
            frame(2, cbor2.dumps(events_body([{0: 3, 1: MONO, 6: float("nan")}]))),
            "BAD_FIELD",
        ),
        e(
            "err_value_integer_beyond_2_53",
            "event value the integer 2**53 + 1",
            frame(2, cbor2.dumps(events_body([{0: 3, 1: MONO, 6: 2**53 + 1}]))),
            "BAD_FIELD",
        ),
        e(
            "err_text_control_character",
            "event code with a newline",
            frame(2, cbor2.dumps(events_body([{0: 1, 1: MONO, 4: "E\n1"}]))),
            "BAD_FIELD",
        ),
        e(
            "err_text_not_utf8",
            "a text string of invalid UTF-8",
            frame(4, b"\xa1\x18\x29\x62\xc3\x28"),
            "MALFORMED",
        ),
        e("err_map_key_float", "a float map key", frame(4, b"\xa1\xf9\x3c\x00\x00"), "MALFORMED"),
        e(
            "err_reserved_info_28",
            "additional information 28",
            frame(4, b"\xa1\x00\x1c"),
            "MALFORMED",
        ),
        e("err_simple_undefined", "undefined (0xf7)", frame(4, b"\xa1\x00\xf7"), "MALFORMED"),
        e(
            "err_items_16385",
            "16 385 CBOR items in a body",
            frame(4, cbor2.dumps({44: [0] * 16_383})),
            "LIMIT_EXCEEDED",
        ),
        # ------------------------------------------------ column blocks
        e(
            "err_zstd_without_content_size",
            "values frame without a content size",
            tele(telemetry_body({16: [1, 1, zstd(b"\x00\x00", content_size=False)]})),
            "BAD_FIELD",
        ),
        e(
            "err_zstd_declares_less",
            "values frame declares 1 byte of 2",
            tele(telemetry_body({16: [1, 1, zstd(b"\x00")]})),
            "BAD_FIELD",
        ),
        e(
            "err_zstd_trailing",
            "a byte after the values frame",
            tele(telemetry_body({16: [1, 1, zstd(b"\x00\x00") + b"\x00"]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_zstd_rle_bomb",
            "values frame declares 2 bytes and holds 1,000 blocks of 128 KiB",
            tele(telemetry_body({16: [1, 1, rle_bomb_frame(2, 1000)]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_samples_4097",
            "timestamp frame declares 4097 samples",
            tele(telemetry_body({11: [1, 1, zstd(bytes(4097))]})),
            "LIMIT_EXCEEDED",
        ),
        e(
            "err_timestamps_not_whole",
            "timestamp block of 3 bytes at width 2",
            tele(telemetry_body({11: [0, 2, b"\x00\x00\x01"]})),
            "BAD_FIELD",
        ),
        e(
            "err_zstd_skippable_frame",
            "a heartbeat whose empty values block is a skippable frame",
            tele(heartbeat_body({16: [1, 1, struct.pack("<II", 0x184D2A50, 4) + b"abcd"]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_zstd_empty_frame_with_blocks",
            "a heartbeat whose values frame declares 0 bytes and holds RLE blocks",
            tele(heartbeat_body({16: [1, 1, rle_bomb_frame(0, 1000)]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_codec_negative",
            "block codec -1",
            tele(telemetry_body({16: [-1, 1, b"\x00\x00"]})),
            "BAD_FIELD",
        ),
        e(
            "err_codec_2_63",
            "block codec 2**63",
            tele(telemetry_body({16: [2**63, 1, b"\x00\x00"]})),
            "BAD_FIELD",
        ),
        e(
            "err_key_rotated_at_minor_1",
            "KEY_ROTATED with its public_key (a 1.2 key) in a minor 1 frame",
            frame(
                2,
                cbor2.dumps(events_body([{0: 11, 1: MONO, 4: "3", 11: bytes(32)}])),
                minor=1,
            ),
            "UNKNOWN_FIELD",
        ),
    ]


def topic_vectors() -> list[dict[str, Any]]:
    """Manifest entries judged against a topic: `decode(payload, topic=Topic.parse(topic))`."""
    single = encode(telemetry(), SIGNER)
    robot = str(ROBOT)
    other = "00000000-0000-4000-8000-000000000001"
    return [
        {
            "name": "err_topic_tenant_uppercase",
            "description": "a tenant with an upper-case letter: BAD_TOPIC",
            "payload": single,
            "topic": f"rc/v1/Acme/{robot}/telemetry",
            "error": "BAD_TOPIC",
        },
        {
            "name": "err_topic_kind",
            "description": "telemetry published on the status topic: KIND_TOPIC_MISMATCH",
            "payload": single,
            "topic": f"rc/v1/acme/{robot}/status",
            "error": "KIND_TOPIC_MISMATCH",
        },
        {
            "name": "err_topic_robot",
            "description": "telemetry of one robot on another robot's topic: KIND_TOPIC_MISMATCH",
            "payload": single,
            "topic": f"rc/v1/acme/{other}/telemetry",
            "error": "KIND_TOPIC_MISMATCH",
        },
        {
            "name": "topic_ok",
            "description": "the same telemetry on its own topic",
            "payload": single,
            "topic": f"rc/v1/acme/{robot}/telemetry",
        },
        {
            "name": "err_verify_key_31_bytes",
            "description": "verified with a 31-byte key: BAD_KEY",
            "payload": single,
            "verify_key": bytes(31).hex(),
            "verify": "BAD_KEY",
        },
    ]
