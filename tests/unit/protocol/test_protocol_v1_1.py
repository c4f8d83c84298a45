"""Protocol 1.1: the optional fields and event kinds it adds, and the minor version rules.

Encoders write the lowest minor that can express a message (0 unless a 1.1 field or event kind
is used); a frame of minor 0 cannot carry a 1.1 key; a frame newer than 1.1 may carry keys we
do not know. See docs/protocol.md section 15.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import uuid
from types import ModuleType
from typing import Any

import cbor2
import pytest

from firmware_protocol import (
    PROTOCOL_MINOR,
    Config,
    DropNotice,
    ErrorCode,
    Event,
    EventBatch,
    EventKind,
    MetricKey,
    ProtocolError,
    RobotSigner,
    RobotState,
    Severity,
    Status,
    decode,
    encode,
    to_json,
    verify,
)
from firmware_protocol.codec import frame_header, message_minor
from firmware_protocol.limits import MAX_CONFIG_COLLECTORS

ROBOT = uuid.UUID("6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
BOOT = uuid.UUID("00112233-4455-4677-8899-aabbccddeeff")
ORIGIN: dict[str, Any] = {"robot_id": ROBOT, "boot_id": BOOT, "wall_us": 7, "mono_us": 9}


def _config(**fields: Any) -> Config:
    return Config(robot_id=ROBOT, config_version=4, wall_us=7, **fields)


def _notice(**fields: Any) -> DropNotice:
    return DropNotice(
        **ORIGIN,
        seq=12,
        prev_digest=bytes([5]) * 32,
        first_seq=3,
        last_seq=10,
        digest_before=bytes([1]) * 32,
        last_digest=bytes([2]) * 32,
        reason=1,
        dropped_bytes=4096,
        **fields,
    )


def _status(**fields: Any) -> Status:
    return Status(
        **ORIGIN,
        state=RobotState.ONLINE,
        firmware_version="1.2",
        agent_version="0.4",
        next_seq=13,
        **fields,
    )


def _events(*events: Event) -> EventBatch:
    return EventBatch(**ORIGIN, seq=13, prev_digest=bytes([6]) * 32, events=events)


def _code(payload: bytes) -> ErrorCode:
    with pytest.raises(ProtocolError) as caught:
        decode(payload)
    return caught.value.code


def _body(payload: bytes) -> dict[Any, Any]:
    length = struct.unpack(">I", payload[6:10])[0]
    body: dict[Any, Any] = cbor2.loads(payload[10 : 10 + length])
    return body


def _frame(kind: int, body: dict[Any, Any], *, minor: int, signer: RobotSigner) -> bytes:
    """A hand-built frame of any minor, signed (robot kinds must be)."""
    raw = cbor2.dumps(body)
    header = b"RC" + bytes([1, minor, kind, 1]) + struct.pack(">I", len(raw))
    return header + raw + signer.sign(b"robocover/v1\x00" + header + raw)


APPLIED = Event(EventKind.CONFIG_APPLIED, 5, code="4", message="applied")
REJECTED = Event(EventKind.CONFIG_REJECTED, 6, Severity.WARNING, code="5", message="no ros2")
COLLISION = Event(EventKind.COLLISION, 4, Severity.WARNING, value=120.0)

NEW_1_1: list[Any] = [
    _config(read_interval_ms=100),
    _config(collectors=("system", "ros2")),
    _config(sample_interval_ms=1000, read_interval_ms=10, collectors=("ünïcode-ß",)),
    _notice(dropped_samples=0),
    _notice(dropped_samples=26_400),
    _status(config_version=0),
    _status(config_version=2**63 - 1),
    _events(APPLIED),
    _events(COLLISION, REJECTED),
]
STILL_1_0: list[Any] = [
    _config(),
    _config(sample_interval_ms=1000, metrics=(MetricKey("battery_soc_pct"),)),
    _notice(),
    _status(),
    _events(COLLISION),
    _events(Event(200, 5)),  # an unknown kind (a later minor) is sent as a number, at minor 0
]


CASES = [(m, 1) for m in NEW_1_1] + [(m, 0) for m in STILL_1_0]


@pytest.mark.parametrize(
    ("message", "minor"),
    CASES,
    ids=[f"{type(m).__name__}-1.{n}-{i}" for i, (m, n) in enumerate(CASES)],
)
def test_round_trip_binary_and_json_with_the_lowest_minor(
    message: Any, minor: int, signer: RobotSigner
) -> None:
    payload = encode(message, signer)
    assert payload[3] == minor
    decoded = decode(payload)
    assert decoded.message == message
    assert (decoded.major, decoded.minor) == (1, minor)
    verify(decoded, signer.public_key)
    as_json = to_json(message)
    assert json.loads(as_json)["rc"] == f"1.{minor}"
    from_json = decode(as_json)
    assert from_json.message == message
    assert from_json.minor == minor
    assert message_minor(message) == minor


def test_new_fields_on_the_wire(signer: RobotSigner) -> None:
    config = _config(read_interval_ms=250, collectors=("system", "simulator"))
    assert {56: 250, 57: ["system", "simulator"]}.items() <= _body(encode(config)).items()
    document = json.loads(to_json(config))
    assert document["read_interval_ms"] == 250
    assert document["collectors"] == ["system", "simulator"]
    assert _body(encode(_notice(dropped_samples=7), signer))[36] == 7
    assert _body(encode(_status(config_version=3), signer))[47] == 3
    assert json.loads(to_json(_notice(dropped_samples=7)))["dropped_samples"] == 7
    assert json.loads(to_json(_status(config_version=3)))["config_version"] == 3
    events = _body(encode(_events(APPLIED, REJECTED), signer))[20]
    assert [(e[0], e[4]) for e in events] == [(9, "4"), (10, "5")]


def test_a_1_0_message_encodes_exactly_as_before(generator: ModuleType) -> None:
    """The golden 1.0 vectors are re-encoded byte for byte (their frames say minor 0)."""
    for vector in generator._valid_vectors():
        if vector.name.startswith(("telemetry", "minor", "tampered", "json")):
            continue
        decoded = decode(vector.payload)
        signer = generator.SIGNER if decoded.signature is not None else None
        assert encode(decoded.message, signer) == vector.payload, vector.name
        assert vector.payload[3] == (1 if vector.name.endswith("_v1_1") else 0), vector.name


@pytest.mark.parametrize(
    ("kind", "message", "key", "value"),
    [
        (5, _config(), 56, 100),
        (5, _config(), 57, ["system"]),
        (5, _config(), 57, "not even an array"),  # refused as unknown, before its type
        (3, _notice(), 36, 5),
        (4, _status(), 47, 1),
    ],
)
def test_a_minor_0_frame_cannot_carry_a_1_1_key(
    kind: int, message: Any, key: int, value: Any, signer: RobotSigner
) -> None:
    body = _body(encode(message, signer)) | {key: value}
    assert _code(_frame(kind, body, minor=0, signer=signer)) is ErrorCode.UNKNOWN_FIELD
    if key == 57 and not isinstance(value, list):
        assert _code(_frame(kind, body, minor=1, signer=signer)) is ErrorCode.BAD_FIELD
    else:
        assert decode(_frame(kind, body, minor=1, signer=signer)).minor == 1


def test_a_minor_0_json_document_cannot_carry_a_1_1_field() -> None:
    document = json.loads(to_json(_config()))
    assert document["rc"] == "1.0"
    document["read_interval_ms"] = 100
    assert _code(json.dumps(document).encode()) is ErrorCode.UNKNOWN_FIELD
    document["rc"] = "1.1"
    assert decode(json.dumps(document).encode()).message == _config(read_interval_ms=100)


def test_a_newer_minor_may_carry_unknown_keys(signer: RobotSigner) -> None:
    config = _config(read_interval_ms=100)
    body = _body(encode(config)) | {99: "a field from protocol 1.3"}
    assert PROTOCOL_MINOR == 2
    decoded = decode(_frame(5, body, minor=3, signer=signer))
    assert decoded.message == config
    assert decoded.minor == 3
    assert _code(_frame(5, body, minor=2, signer=signer)) is ErrorCode.UNKNOWN_FIELD
    document = json.loads(to_json(config)) | {"rc": "1.3", "future": [1]}
    assert decode(json.dumps(document).encode()).message == config


def test_config_outcome_kinds_are_accepted_in_a_minor_0_frame(signer: RobotSigner) -> None:
    """Unknown event kinds were always accepted as numbers: a 1.0 frame may hold kinds 9/10."""
    batch = _events(APPLIED, REJECTED)
    payload = _frame(2, _body(encode(batch, signer)), minor=0, signer=signer)
    decoded = decode(payload)
    assert decoded.message == batch
    assert decoded.minor == 0
    assert isinstance(decoded.message, EventBatch)
    assert [e.known_kind for e in decoded.message.events] == [
        EventKind.CONFIG_APPLIED,
        EventKind.CONFIG_REJECTED,
    ]


@pytest.mark.parametrize("kind", [EventKind.CONFIG_APPLIED, EventKind.CONFIG_REJECTED])
def test_config_outcome_events_require_a_code(kind: EventKind) -> None:
    with pytest.raises(ProtocolError, match="requires code") as caught:
        Event(kind, 5, message="applied")
    assert caught.value.code is ErrorCode.MISSING_FIELD


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"read_interval_ms": 5}, ErrorCode.BAD_FIELD),
        ({"read_interval_ms": 9}, ErrorCode.BAD_FIELD),
        ({"read_interval_ms": 60_001}, ErrorCode.BAD_FIELD),
        ({"read_interval_ms": True}, ErrorCode.BAD_FIELD),
        ({"read_interval_ms": 100.0}, ErrorCode.BAD_FIELD),
        ({"collectors": ()}, ErrorCode.LIMIT_EXCEEDED),
        ({"collectors": ("system", "ros2", "system")}, ErrorCode.BAD_FIELD),
        ({"collectors": ("x" * 65,)}, ErrorCode.BAD_FIELD),
        ({"collectors": ("é" * 33,)}, ErrorCode.BAD_FIELD),  # 66 UTF-8 bytes
        ({"collectors": ("",)}, ErrorCode.BAD_FIELD),
        ({"collectors": ("sys\ntem",)}, ErrorCode.BAD_FIELD),
        ({"collectors": (7,)}, ErrorCode.BAD_FIELD),
        ({"collectors": ["system"]}, ErrorCode.BAD_FIELD),
        ({"collectors": "system"}, ErrorCode.BAD_FIELD),
        (
            {"collectors": tuple(f"c{i}" for i in range(MAX_CONFIG_COLLECTORS + 1))},
            ErrorCode.LIMIT_EXCEEDED,
        ),
    ],
)
def test_config_1_1_validation(fields: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        _config(**fields)
    assert caught.value.code is code


def test_config_1_1_limits_are_inclusive() -> None:
    assert MAX_CONFIG_COLLECTORS == 32
    _config(read_interval_ms=10)
    _config(read_interval_ms=60_000)
    _config(collectors=tuple(f"c{i}" for i in range(32)))
    _config(collectors=("x" * 64, "é" * 32))


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ([], ErrorCode.LIMIT_EXCEEDED),
        ([f"c{i}" for i in range(33)], ErrorCode.LIMIT_EXCEEDED),
        (["a", "a"], ErrorCode.BAD_FIELD),
        ([b"system"], ErrorCode.BAD_FIELD),
        ({"system": 1}, ErrorCode.BAD_FIELD),
    ],
)
def test_collectors_decoding_errors(value: Any, code: ErrorCode, signer: RobotSigner) -> None:
    body = _body(encode(_config())) | {57: value}
    assert _code(_frame(5, body, minor=1, signer=signer)) is code


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_dropped_samples_and_config_version_must_be_uints(bad: Any) -> None:
    with pytest.raises(ProtocolError) as caught:
        _notice(dropped_samples=bad)
    assert caught.value.code is ErrorCode.BAD_FIELD
    with pytest.raises(ProtocolError) as caught:
        _status(config_version=bad)
    assert caught.value.code is ErrorCode.BAD_FIELD


def test_negative_1_1_values_are_refused_on_the_wire(signer: RobotSigner) -> None:
    notice = _body(encode(_notice(), signer)) | {36: -1}
    assert _code(_frame(3, notice, minor=1, signer=signer)) is ErrorCode.BAD_FIELD
    status = _body(encode(_status(), signer)) | {47: -1}
    assert _code(_frame(4, status, minor=1, signer=signer)) is ErrorCode.BAD_FIELD
    config = _body(encode(_config())) | {56: 60_001}
    assert _code(_frame(5, config, minor=1, signer=signer)) is ErrorCode.BAD_FIELD


def test_frame_header_writes_the_minor_it_is_given() -> None:
    assert frame_header(Config.KIND, 3, signed=False, minor=0)[:5] == b"RC\x01\x00\x05"
    assert frame_header(Config.KIND, 3, signed=True, minor=1)[:6] == b"RC\x01\x01\x05\x01"
    assert frame_header(Config.KIND, 3, signed=True, minor=2)[:6] == b"RC\x01\x02\x05\x01"
    with pytest.raises(ValueError, match="minor version 3"):
        frame_header(Config.KIND, 3, signed=False, minor=3)


def test_replacing_a_1_1_field_by_none_returns_to_minor_0() -> None:
    config = _config(read_interval_ms=100)
    assert encode(config)[3] == 1
    assert encode(dataclasses.replace(config, read_interval_ms=None)) == encode(_config())
