"""Golden vectors of the precedence between errors (docs/protocol.md sections 3, 5.1 and 6.1).

Each holds two faults; its description names both and ends with the error code that wins.
"""

from __future__ import annotations

import struct

import cbor2

from firmware_protocol import encode
from tests.vectors.protocol.content import (
    MONO,
    SIGNER,
    Vector,
    events_body,
    frame,
    status_body,
    tele,
    telemetry,
    telemetry_body,
    zstd,
)


def precedence() -> list[Vector]:
    """Two faults each: the description says which wins (docs/protocol.md 3, 5.1, 6.1)."""
    e = Vector
    good = encode(telemetry(), SIGNER)
    unsigned = frame(1, cbor2.dumps([1]), flags=0, sign=False)
    many_refs = [f"x_a_m{index}" for index in range(257)]
    four_k = zstd(bytes(2 * 4097))
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
            tele({k: v for k, v in telemetry_body({99: 0}).items() if k != 2}),
            "UNKNOWN_FIELD",
        ),
        e(
            "prec_missing_over_field",
            "seq missing and robot_id 15 bytes: MISSING_FIELD",
            tele({k: v for k, v in telemetry_body({0: bytes(15)}).items() if k != 2}),
            "MISSING_FIELD",
        ),
        e(
            "prec_lower_key_first",
            "seq as text (key 2) and codec 7 (key 16): BAD_FIELD",
            tele(telemetry_body({2: "5", 16: [7, 1, b"\x00\x00"]})),
            "BAD_FIELD",
        ),
        e(
            "prec_codec_over_refs",
            "codec 7 in key 11 and 257 metric refs in key 12: UNSUPPORTED_ENCODING",
            tele(telemetry_body({11: [7, 1, b"\x00\x00"], 12: many_refs})),
            "UNSUPPORTED_ENCODING",
        ),
        e(
            "prec_field_over_span",
            "exponent 12 (key 14) and lengths that disagree: BAD_FIELD",
            tele(telemetry_body({14: b"\x0c\x00"})),
            "BAD_FIELD",
        ),
        e(
            "prec_genesis_over_cells",
            "seq 0 with a non-zero prev_digest, and 4097 samples: BAD_FIELD",
            tele(telemetry_body({2: 0, 11: [1, 2, four_k]})),
            "BAD_FIELD",
        ),
        e(
            "prec_lengths_over_samples",
            "bases of 7 bytes, and 4097 samples: BAD_FIELD",
            tele(telemetry_body({15: bytes(7), 11: [1, 2, four_k]})),
            "BAD_FIELD",
        ),
        e(
            "prec_samples_over_bomb",
            "4097 samples, and a values frame declaring too much: LIMIT_EXCEEDED",
            tele(telemetry_body({11: [1, 2, four_k], 16: [1, 1, zstd(bytes(9000))]})),
            "LIMIT_EXCEEDED",
        ),
        e(
            "prec_timestamp_block_over_values",
            "a corrupt timestamp frame and a bomb in the values: DECOMPRESSION_FAILED",
            tele(
                telemetry_body(
                    {
                        11: [1, 1, zstd(b"\x00\x01")[:-1] + b"\x00\x00"],
                        16: [1, 1, zstd(bytes(9000))],
                    }
                )
            ),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "prec_bomb_over_time",
            "timestamps backwards, and a values frame declaring too much: DECOMPRESSION_BOMB",
            tele(telemetry_body({11: [0, 1, b"\x00\xff"], 16: [1, 1, zstd(bytes(9000))]})),
            "DECOMPRESSION_BOMB",
        ),
        e(
            "prec_time_over_magnitude",
            "timestamps backwards, and a value beyond 2**53: BAD_FIELD",
            tele(telemetry_body({11: [0, 1, b"\x00\xff"], 15: struct.pack("<q", 2**60)})),
            "BAD_FIELD",
        ),
        e(
            "prec_magnitude_over_duplicate",
            "a value beyond 2**53, and one metric twice: LIMIT_EXCEEDED",
            tele(
                telemetry_body(
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
            frame(2, cbor2.dumps(events_body([{1: MONO}, {0: 3, 1: MONO, 2: 9}]))),
            "MISSING_FIELD",
        ),
        e(
            "prec_outer_field_over_event",
            "seq as text (key 2), and an event of severity 9 (key 20): BAD_FIELD",
            frame(2, cbor2.dumps(events_body([{0: 3, 1: MONO, 2: 9}]) | {2: "7"})),
            "BAD_FIELD",
        ),
        e(
            "prec_field_over_birth_rule",
            "an ONLINE status lacking agent_version, with a catalogue entry of 4 items: BAD_FIELD",
            frame(
                4,
                cbor2.dumps(
                    {k: v for k, v in status_body({44: [[5, 0, -1, "%"]]}).items() if k != 42}
                ),
            ),
            "BAD_FIELD",
        ),
    ]
