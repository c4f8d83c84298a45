"""Golden vectors of protocol 1.2: its new fields, the bounds it sets, a refusal for every error
code, and the precedence between errors (docs/protocol.md sections 3, 4, 5.1 and 6.1).

Each precedence vector holds two faults; its description names both and the one that wins.
Imported by generate.py, which writes them with the others.
"""

from __future__ import annotations

import struct
from typing import Any

import cbor2
import zstandard

from firmware_protocol import (
    Config,
    Event,
    EventBatch,
    EventKind,
    RobotState,
    Status,
    TelemetryBatch,
    encode,
    payload_digest,
)
from tests.support.attacks import rle_bomb_frame

# The generator's fixed content, passed in by generate.py (it imports this module).
Vector: Any = None
frame: Any = None
body_of: Any = None
SIGNER: Any = None
ROBOT: Any = None
BOOT: Any = None
WALL: int = 0
MONO: int = 0

TIME_MAX = 2**54
UINT_MAX = 2**63 - 1


def bind(namespace: dict[str, Any]) -> None:
    for name in ("Vector", "frame", "body_of", "SIGNER", "ROBOT", "BOOT", "WALL", "MONO"):
        globals()[name] = namespace[name]


def _telemetry(**changes: Any) -> TelemetryBatch:
    base: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "seq": 5,
        "prev_digest": bytes([9]) * 32,
        "wall_us": WALL,
        "mono_us": MONO,
        "timestamps_us": [MONO - 1000, MONO],
        "series": {"battery_soc_pct": [50.0, 49.9]},
    }
    return TelemetryBatch.from_values(**(base | changes))


def _body(changes: dict[Any, Any] | None = None) -> dict[Any, Any]:
    return body_of(encode(_telemetry(), SIGNER, compress=False)) | (changes or {})  # type: ignore[no-any-return]


def _tele(body: dict[Any, Any], *, minor: int = 0) -> bytes:
    return frame(1, cbor2.dumps(body), minor=minor)  # type: ignore[no-any-return]


def _status(**changes: Any) -> Status:
    base: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "wall_us": WALL,
        "mono_us": MONO,
        "state": RobotState.ONLINE,
        "firmware_version": "5.12.0",
        "agent_version": "0.2.0",
        "next_seq": 121,
    }
    return Status(**(base | changes))


def _status_body(changes: dict[Any, Any] | None = None) -> dict[Any, Any]:
    return body_of(encode(_status(), SIGNER)) | (changes or {})  # type: ignore[no-any-return]


def _events_body(events: list[dict[int, Any]]) -> dict[Any, Any]:
    batch = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=7,
        prev_digest=bytes([4]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        events=(Event(EventKind.COLLISION, MONO),),
    )
    return body_of(encode(batch, SIGNER)) | {20: events}  # type: ignore[no-any-return]


def _config_body(changes: dict[Any, Any] | None = None) -> dict[Any, Any]:
    config = Config(robot_id=ROBOT, config_version=9, wall_us=WALL)
    return body_of(encode(config)) | (changes or {})  # type: ignore[no-any-return]


def _zstd(data: bytes, *, content_size: bool = True) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=content_size).compress(data)


def valid_v1_2() -> list[Any]:
    rotated_key = bytes(range(32, 64))
    birth = _status(connection_seq=42, head_digest=payload_digest(b"seq 120"))
    key_rotation = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=130,
        prev_digest=bytes([5]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        events=(Event(EventKind.KEY_ROTATED, MONO - 10, code="3", public_key=rotated_key),),
    )
    rotation = Config(
        robot_id=ROBOT,
        config_version=10,
        wall_us=WALL,
        rotation_id=3,
        rotation_credentials=bytes(range(100)),
    )
    bounds = _telemetry(
        seq=UINT_MAX,
        wall_us=-TIME_MAX,
        mono_us=TIME_MAX,
        timestamps_us=[TIME_MAX - 1, TIME_MAX],
    )
    heartbeat = TelemetryBatch.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=6,
        prev_digest=bytes([9]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        timestamps_us=[MONO],
        series={},
    )
    v = Vector
    return [
        v("status_birth_v1_2", "1.2 birth: connection_seq and head_digest", encode(birth, SIGNER)),
        v(
            "status_last_will_v1_2",
            "1.2 last will of the same connection",
            encode(
                _status(
                    state=RobotState.OFFLINE,
                    firmware_version=None,
                    agent_version=None,
                    next_seq=None,
                    connection_seq=42,
                ),
                SIGNER,
            ),
        ),
        v("events_v1_2_key_rotated", "1.2 KEY_ROTATED event", encode(key_rotation, SIGNER)),
        v("config_v1_2_rotation", "1.2 config: rotation_id, credentials", encode(rotation)),
        v("telemetry_at_bounds", "seq 2**63-1, wall -2**54, times 2**54", encode(bounds, SIGNER)),
        v("telemetry_heartbeat", "no metric: M = 0", encode(heartbeat, SIGNER)),
        v(
            "status_state_unknown",
            "state 7: accepted, kept as a number",
            frame(4, cbor2.dumps(_status_body({40: 7}))),
        ),
        v(
            "event_value_integer",
            "an integer where a float is expected: 85 reads as 85.0",
            frame(2, cbor2.dumps(_events_body([{0: 3, 1: MONO, 6: 85}]))),
        ),
        v(
            "event_value_half_float",
            "a half-precision float (0xf9)",
            frame(2, _half_float_events()),
        ),
        v(
            "config_null_optional",
            "null for an optional field is absent",
            frame(5, cbor2.dumps(_config_body({51: None})), flags=0, sign=False),
        ),
    ]


def _half_float_events() -> bytes:
    """An events body whose single event's value is the half float 1.5 (0xf9 0x3e 0x00)."""
    body = _events_body([{0: 3, 1: MONO, 6: 0.0}])
    raw = cbor2.dumps(body)
    marker = b"\x06\xfb" + bytes(8)  # key 6, double 0.0 as cbor2 writes it
    assert raw.count(marker) == 1
    return raw.replace(marker, b"\x06\xf9\x3e\x00")


def refusals() -> list[Any]:
    e = Vector
    zero_status = body_of(
        encode(Status(robot_id=ROBOT, boot_id=BOOT, wall_us=WALL, mono_us=MONO, state=2), SIGNER)
    )
    return [
        # ------------------------------------------------ bounds of 1.2
        e(
            "err_mono_beyond_2_54",
            "mono_us 2**54 + 1",
            _tele(_body({5: TIME_MAX + 1})),
            "BAD_FIELD",
        ),
        e(
            "err_wall_beyond_2_54",
            "wall_us -(2**54) - 1",
            _tele(_body({4: -TIME_MAX - 1})),
            "BAD_FIELD",
        ),
        e("err_seq_2_63", "seq 2**63", _tele(_body({2: UINT_MAX + 1})), "BAD_FIELD"),
        e(
            "err_t_base_beyond_2_54",
            "t_base 2**54 + 1",
            _tele(_body({10: TIME_MAX + 1})),
            "BAD_FIELD",
        ),
        e(
            "err_timestamp_beyond_2_54",
            "t_base 2**54, second timestamp one later",
            _tele(_body({10: TIME_MAX, 11: [0, 1, b"\x00\x01"]})),
            "BAD_FIELD",
        ),
        e(
            "err_dropped_bytes_2_63",
            "drop notice dropped_bytes 2**63",
            frame(3, cbor2.dumps(_drop_body({35: UINT_MAX + 1}))),
            "BAD_FIELD",
        ),
        e(
            "err_state_0",
            "status state 0",
            frame(4, cbor2.dumps(zero_status | {40: 0})),
            "BAD_FIELD",
        ),
        e("err_metric_code_0", "metric code 0", _tele(_body({12: [0]})), "BAD_FIELD"),
        e("err_metric_code_65536", "metric code 65536", _tele(_body({12: [65536]})), "BAD_FIELD"),
        e(
            "err_drop_reason_0",
            "drop reason 0",
            frame(3, cbor2.dumps(_drop_body({34: 0}))),
            "BAD_FIELD",
        ),
        # ------------------------------------------------ arrays, required and conditional fields
        e(
            "err_events_empty",
            "no event",
            frame(2, cbor2.dumps(_events_body([]))),
            "LIMIT_EXCEEDED",
        ),
        e(
            "err_collectors_empty",
            "config collectors []",
            frame(5, cbor2.dumps(_config_body({57: []})), minor=1, flags=0, sign=False),
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
            frame(4, cbor2.dumps({k: v for k, v in _status_body().items() if k != 43})),
            "MISSING_FIELD",
        ),
        e(
            "err_key_rotated_without_key",
            "KEY_ROTATED event without public_key",
            frame(2, cbor2.dumps(_events_body([{0: 11, 1: MONO, 4: "3"}])), minor=2),
            "MISSING_FIELD",
        ),
        e(
            "err_credentials_without_rotation_id",
            "config rotation_credentials without rotation_id",
            frame(5, cbor2.dumps(_config_body({59: bytes(64)})), minor=2, flags=0, sign=False),
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
        e("err_null_required", "seq null", _tele(_body({2: None})), "MISSING_FIELD"),
        # ------------------------------------------------ value types
        e("err_seq_true", "seq true", _tele(_body({2: True})), "BAD_FIELD"),
        e(
            "err_value_nan",
            "event value NaN",
            frame(2, cbor2.dumps(_events_body([{0: 3, 1: MONO, 6: float("nan")}]))),
            "BAD_FIELD",
        ),
        e(
            "err_value_integer_beyond_2_53",
            "event value the integer 2**53 + 1",
            frame(2, cbor2.dumps(_events_body([{0: 3, 1: MONO, 6: 2**53 + 1}]))),
            "BAD_FIELD",
        ),
        e(
            "err_text_control_character",
            "event code with a newline",
            frame(2, cbor2.dumps(_events_body([{0: 1, 1: MONO, 4: "E\n1"}]))),
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
            _tele(_body({16: [1, 1, _zstd(b"\x00\x00", content_size=False)]})),
            "BAD_FIELD",
        ),
        e(
            "err_zstd_declares_less",
            "values frame declares 1 byte of 2",
            _tele(_body({16: [1, 1, _zstd(b"\x00")]})),
            "BAD_FIELD",
        ),
        e(
            "err_zstd_trailing",
            "a byte after the values frame",
            _tele(_body({16: [1, 1, _zstd(b"\x00\x00") + b"\x00"]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_zstd_rle_bomb",
            "values frame declares 2 bytes and holds 1,000 blocks of 128 KiB",
            _tele(_body({16: [1, 1, rle_bomb_frame(2, 1000)]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_samples_4097",
            "timestamp frame declares 4097 samples",
            _tele(_body({11: [1, 1, _zstd(bytes(4097))]})),
            "LIMIT_EXCEEDED",
        ),
        e(
            "err_timestamps_not_whole",
            "timestamp block of 3 bytes at width 2",
            _tele(_body({11: [0, 2, b"\x00\x00\x01"]})),
            "BAD_FIELD",
        ),
        e(
            "err_zstd_skippable_frame",
            "a heartbeat whose empty values block is a skippable frame",
            _tele(_heartbeat_body({16: [1, 1, struct.pack("<II", 0x184D2A50, 4) + b"abcd"]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_zstd_empty_frame_with_blocks",
            "a heartbeat whose values frame declares 0 bytes and holds RLE blocks",
            _tele(_heartbeat_body({16: [1, 1, rle_bomb_frame(0, 1000)]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_codec_negative",
            "block codec -1",
            _tele(_body({16: [-1, 1, b"\x00\x00"]})),
            "BAD_FIELD",
        ),
        e(
            "err_codec_2_63",
            "block codec 2**63",
            _tele(_body({16: [2**63, 1, b"\x00\x00"]})),
            "BAD_FIELD",
        ),
        e(
            "err_key_rotated_at_minor_1",
            "KEY_ROTATED with its public_key (a 1.2 key) in a minor 1 frame",
            frame(
                2,
                cbor2.dumps(_events_body([{0: 11, 1: MONO, 4: "3", 11: bytes(32)}])),
                minor=1,
            ),
            "UNKNOWN_FIELD",
        ),
        *_precedence(),
    ]


def _heartbeat_body(changes: dict[Any, Any]) -> dict[Any, Any]:
    heartbeat = TelemetryBatch.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=6,
        prev_digest=bytes([9]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        timestamps_us=[MONO],
        series={},
    )
    return body_of(encode(heartbeat, SIGNER)) | changes  # type: ignore[no-any-return]


def _drop_body(changes: dict[Any, Any] | None = None) -> dict[Any, Any]:
    from firmware_protocol import DropNotice

    notice = DropNotice(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=120,
        prev_digest=bytes([7]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        first_seq=100,
        last_seq=110,
        digest_before=bytes([1]) * 32,
        last_digest=bytes([2]) * 32,
        reason=1,
        dropped_bytes=1_048_576,
    )
    return body_of(encode(notice, SIGNER)) | (changes or {})  # type: ignore[no-any-return]


def _precedence() -> list[Any]:
    """Two faults each: the description says which wins (docs/protocol.md 3, 5.1, 6.1)."""
    e = Vector
    good = encode(_telemetry(), SIGNER)
    unsigned = frame(1, cbor2.dumps([1]), flags=0, sign=False)
    many_refs = [f"x_a_m{index}" for index in range(257)]
    four_k = _zstd(bytes(2 * 4097))
    return [
        e(
            "prec_magic_over_major",
            "magic XC, major 2: BAD_MAGIC",
            b"XC\x02" + good[3:],
            "BAD_MAGIC",
        ),
        e(
            "prec_major_over_kind",
            "major 2, kind 9: UNSUPPORTED_MAJOR_VERSION",
            good[:2] + b"\x02\x00\x09" + good[5:],
            "UNSUPPORTED_MAJOR_VERSION",
        ),
        e(
            "prec_kind_over_flags",
            "kind 9, flags 0x03: UNKNOWN_KIND",
            good[:4] + b"\x09\x03" + good[6:],
            "UNKNOWN_KIND",
        ),
        e(
            "prec_flags_over_length",
            "flags 0x03, a byte missing: BAD_FIELD",
            (good[:5] + b"\x03" + good[6:])[:-1],
            "BAD_FIELD",
        ),
        e(
            "prec_length_over_unsigned",
            "unsigned telemetry, a byte missing: TRUNCATED",
            unsigned[:-1],
            "TRUNCATED",
        ),
        e(
            "prec_unsigned_over_body",
            "unsigned telemetry whose body is an array: UNSIGNED",
            unsigned,
            "UNSIGNED",
        ),
        e(
            "prec_cbor_in_reading_order",
            "a tag, then a truncated string (the first in reading order wins): MALFORMED",
            frame(4, b"\xa2\x00\xc1\x00\x01\x5a\xff\xff\xff\xff"),
            "MALFORMED",
        ),
        e(
            "prec_unknown_over_missing",
            "key 99 unknown and seq missing: UNKNOWN_FIELD",
            _tele({k: v for k, v in _body({99: 0}).items() if k != 2}),
            "UNKNOWN_FIELD",
        ),
        e(
            "prec_missing_over_field",
            "seq missing and robot_id 15 bytes: MISSING_FIELD",
            _tele({k: v for k, v in _body({0: bytes(15)}).items() if k != 2}),
            "MISSING_FIELD",
        ),
        e(
            "prec_lower_key_first",
            "seq as text (key 2) and codec 7 (key 16): BAD_FIELD",
            _tele(_body({2: "5", 16: [7, 1, b"\x00\x00"]})),
            "BAD_FIELD",
        ),
        e(
            "prec_codec_over_refs",
            "codec 7 in key 11 and 257 metric refs in key 12: UNSUPPORTED_ENCODING",
            _tele(_body({11: [7, 1, b"\x00\x00"], 12: many_refs})),
            "UNSUPPORTED_ENCODING",
        ),
        e(
            "prec_field_over_span",
            "exponent 12 (key 14) and lengths that disagree: BAD_FIELD",
            _tele(_body({14: b"\x0c\x00"})),
            "BAD_FIELD",
        ),
        e(
            "prec_genesis_over_cells",
            "seq 0 with a non-zero prev_digest, and 4097 samples: BAD_FIELD",
            _tele(_body({2: 0, 11: [1, 2, four_k]})),
            "BAD_FIELD",
        ),
        e(
            "prec_lengths_over_samples",
            "bases of 7 bytes, and 4097 samples: BAD_FIELD",
            _tele(_body({15: bytes(7), 11: [1, 2, four_k]})),
            "BAD_FIELD",
        ),
        e(
            "prec_samples_over_bomb",
            "4097 samples, and a values frame declaring too much: LIMIT_EXCEEDED",
            _tele(_body({11: [1, 2, four_k], 16: [1, 1, _zstd(bytes(9000))]})),
            "LIMIT_EXCEEDED",
        ),
        e(
            "prec_timestamp_block_over_values",
            "a corrupt timestamp frame and a bomb in the values: DECOMPRESSION_FAILED",
            _tele(
                _body(
                    {
                        11: [1, 1, _zstd(b"\x00\x01")[:-1] + b"\x00\x00"],
                        16: [1, 1, _zstd(bytes(9000))],
                    }
                )
            ),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "prec_bomb_over_time",
            "timestamps backwards, and a values frame declaring too much: DECOMPRESSION_BOMB",
            _tele(_body({11: [0, 1, b"\x00\xff"], 16: [1, 1, _zstd(bytes(9000))]})),
            "DECOMPRESSION_BOMB",
        ),
        e(
            "prec_time_over_magnitude",
            "timestamps backwards, and a value beyond 2**53: BAD_FIELD",
            _tele(_body({11: [0, 1, b"\x00\xff"], 15: struct.pack("<q", 2**60)})),
            "BAD_FIELD",
        ),
        e(
            "prec_magnitude_over_duplicate",
            "a value beyond 2**53, and one metric twice: LIMIT_EXCEEDED",
            _tele(
                _body(
                    {
                        12: [5, 5],
                        13: b"\x00\x00",
                        14: b"\xff\xff",
                        15: struct.pack("<2q", 2**60, 1),
                        16: [0, 1, bytes(4)],
                    }
                )
            ),
            "LIMIT_EXCEEDED",
        ),
        e(
            "prec_first_event_first",
            "event 0 lacks its kind, event 1 has severity 9: MISSING_FIELD",
            frame(2, cbor2.dumps(_events_body([{1: MONO}, {0: 3, 1: MONO, 2: 9}]))),
            "MISSING_FIELD",
        ),
        e(
            "prec_outer_field_over_event",
            "seq as text (key 2), and an event of severity 9 (key 20): BAD_FIELD",
            frame(2, cbor2.dumps(_events_body([{0: 3, 1: MONO, 2: 9}]) | {2: "7"})),
            "BAD_FIELD",
        ),
        e(
            "prec_field_over_birth_rule",
            "an ONLINE status lacking agent_version, with a catalogue entry of 4 items: BAD_FIELD",
            frame(
                4,
                cbor2.dumps(
                    {k: v for k, v in _status_body({44: [[5, 0, -1, "%"]]}).items() if k != 42}
                ),
            ),
            "BAD_FIELD",
        ),
    ]


def topic_vectors() -> list[dict[str, Any]]:
    """Manifest entries judged against a topic: `decode(payload, topic=Topic.parse(topic))`."""
    single = encode(_telemetry(), SIGNER)
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
