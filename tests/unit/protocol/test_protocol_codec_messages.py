"""The codec on frames and the kinds besides telemetry: topics, guards, signing, versions."""

from __future__ import annotations

import uuid
from typing import Any

import cbor2
import pytest

from firmware_protocol import (
    Ack,
    Config,
    DropNotice,
    ErrorCode,
    Event,
    EventBatch,
    EventKind,
    MessageKind,
    MetricDeclaration,
    MetricKey,
    ProtocolError,
    RobotSigner,
    RobotState,
    SeqRange,
    SignatureError,
    Status,
    TelemetryBatch,
    Topic,
    TopicError,
    TopicKind,
    decode,
    encode,
    to_json,
)
from firmware_protocol.limits import MAX_PAYLOAD_BYTES
from tests.unit.protocol.codec_support import BOOT, ROBOT, code_of, unsigned_frame


def test_robot_messages_must_be_signed(typical_batch: TelemetryBatch) -> None:
    with pytest.raises(SignatureError) as caught:
        encode(typical_batch)
    assert caught.value.code is ErrorCode.UNSIGNED


def test_topic_checks(typical_batch: TelemetryBatch, signer: RobotSigner) -> None:
    payload = encode(typical_batch, signer)
    good = Topic("t1", str(ROBOT), TopicKind.TELEMETRY)
    assert decode(payload, topic=good).kind is MessageKind.TELEMETRY
    for bad in (
        Topic("t1", str(ROBOT), TopicKind.EVENTS),
        Topic("t1", str(uuid.UUID(int=5)), TopicKind.TELEMETRY),
    ):
        with pytest.raises(TopicError) as caught:
            decode(payload, topic=bad)
        assert caught.value.code is ErrorCode.KIND_TOPIC_MISMATCH


def test_payload_type_and_size_guards(typical_batch: TelemetryBatch, signer: RobotSigner) -> None:
    payload = encode(typical_batch, signer)
    assert decode(bytearray(payload)).message == typical_batch
    assert decode(memoryview(payload)).message == typical_batch
    assert code_of("text") is ErrorCode.MALFORMED
    assert code_of(b"") is ErrorCode.TRUNCATED
    assert code_of(b"R") is ErrorCode.TRUNCATED
    assert code_of(b"Q") is ErrorCode.BAD_MAGIC
    assert code_of(bytes(MAX_PAYLOAD_BYTES + 1)) is ErrorCode.TOO_LARGE
    assert code_of(to_json(typical_batch), allow_json=False) is ErrorCode.BAD_MAGIC


def test_cloud_kinds_may_be_unsigned_robot_kinds_may_not() -> None:
    ack = Ack(robot_id=ROBOT, wall_us=5, committed=(SeqRange(1, 2),))
    assert decode(encode(ack)).message == ack
    body = cbor2.loads(encode(ack)[10:])
    assert code_of(unsigned_frame(2, body)) is ErrorCode.UNSIGNED
    assert decode(unsigned_frame(6, body)).signature is None


def test_versioning_rules(signer: RobotSigner) -> None:
    ack = Ack(robot_id=ROBOT, wall_us=5, committed=(SeqRange(1, 2),))
    body = cbor2.loads(encode(ack)[10:]) | {77: [1, 2, 3]}
    assert decode(unsigned_frame(6, body, minor=3)).message == ack
    assert code_of(unsigned_frame(6, body, minor=2)) is ErrorCode.UNKNOWN_FIELD
    assert code_of(unsigned_frame(6, body, minor=1)) is ErrorCode.UNKNOWN_FIELD
    assert code_of(unsigned_frame(6, body, minor=0)) is ErrorCode.UNKNOWN_FIELD
    as_json = to_json(ack).replace(b'"rc":"1.0"', b'"rc":"1.4","future":1')
    assert decode(as_json).message == ack
    assert code_of(as_json.replace(b"1.4", b"1.0")) is ErrorCode.UNKNOWN_FIELD
    assert code_of(b'{"kind":"ack"}') is ErrorCode.MISSING_FIELD
    assert code_of(b"RC\x07\x00\x06\x00\x00\x00\x00\x00") is ErrorCode.UNSUPPORTED_MAJOR_VERSION


def test_null_means_absent() -> None:
    config = Config(robot_id=ROBOT, config_version=1, wall_us=0)
    body = cbor2.loads(encode(config)[10:]) | {51: None}
    assert decode(unsigned_frame(5, body)).message == config


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({0: ROBOT.bytes, 4: 0, 60: [[1, 2], [2, 3]]}, ErrorCode.BAD_FIELD),
        ({0: ROBOT.bytes, 4: 0, 60: [[3, 2]]}, ErrorCode.BAD_FIELD),
        ({0: ROBOT.bytes, 4: 0, 60: [[1]]}, ErrorCode.BAD_FIELD),
        ({0: ROBOT.bytes, 4: 0, 60: []}, ErrorCode.LIMIT_EXCEEDED),
        ({0: ROBOT.bytes, 4: 0, 60: [[i * 3, i * 3] for i in range(65)]}, ErrorCode.LIMIT_EXCEEDED),
        ({0: ROBOT.bytes, 4: 0, 60: 5}, ErrorCode.BAD_FIELD),
        ({0: ROBOT.bytes, 4: True, 60: [[1, 2]]}, ErrorCode.BAD_FIELD),
        ({0: ROBOT.bytes, 4: 2**70 if False else -(2**63), 60: [[1, 2]]}, ErrorCode.BAD_FIELD),
        ({0: ROBOT.bytes, 60: [[1, 2]]}, ErrorCode.MISSING_FIELD),
    ],
)
def test_ack_field_errors(body: dict[int, Any], code: ErrorCode) -> None:
    assert code_of(unsigned_frame(6, body)) is code


def test_ack_helpers() -> None:
    ack = Ack(robot_id=ROBOT, wall_us=5, committed=(SeqRange(1, 2), SeqRange(9, 9)))
    assert ack.covers(9)
    assert not ack.covers(5)
    assert 2 in SeqRange(1, 2)
    assert "2" not in SeqRange(1, 2)
    with pytest.raises(ProtocolError):
        Ack(robot_id=ROBOT, wall_us=5, committed=((1, 2),))  # type: ignore[arg-type]


def test_config_validation() -> None:
    for bad in (
        {"sample_interval_ms": 1},
        {"batch_interval_s": 0},
        {"compress": 1},
        {"outbox_budget_bytes": 10},
        {"metrics": ["battery_soc_pct"]},
    ):
        with pytest.raises(ProtocolError):
            Config(robot_id=ROBOT, config_version=1, wall_us=0, **bad)
    with pytest.raises(ProtocolError):
        Config(robot_id="x", config_version=1, wall_us=0)  # type: ignore[arg-type]


def test_status_validation() -> None:
    base: dict[str, Any] = {"robot_id": ROBOT, "boot_id": BOOT, "wall_us": 0, "mono_us": 0}
    with pytest.raises(ProtocolError, match="birth needs"):
        Status(**base, state=RobotState.ONLINE)
    for bad in (
        {"catalogue": [1]},
        {"catalogue": (1,)},
        {"next_seq": -1},
        {"state": 2, "vendor": "a\nb"},
        {"state": 2, "model": "m" * 65},
    ):
        with pytest.raises(ProtocolError):
            Status(**(base | {"state": 2} | bad))
    with pytest.raises(ProtocolError, match="unit"):
        MetricDeclaration(MetricKey("x_acme_force"), 0)
    with pytest.raises(ProtocolError):
        MetricDeclaration("battery_soc_pct", 0)  # type: ignore[arg-type]
    body = {0: ROBOT.bytes, 1: BOOT.bytes, 4: 0, 5: 0, 40: 2, 44: [[5, 0, -1, "%"]]}
    assert code_of(unsigned_frame(4, body)) is ErrorCode.UNSIGNED
    signed = b"RC\x01\x00\x04\x01" + unsigned_frame(4, body)[6:] + bytes(64)
    assert code_of(signed) is ErrorCode.BAD_FIELD
    assert code_of(b'{"rc":"1.0","kind":"status","catalogue":[5]}') is ErrorCode.MISSING_FIELD
    status = (
        b'{"rc":"1.0","kind":"status","robot_id":"'
        + str(ROBOT).encode()
        + b'","boot_id":"'
        + str(BOOT).encode()
        + b'","wall_us":0,"mono_us":0,"state":2,"catalogue":[5]}'
    )
    assert code_of(status) is ErrorCode.BAD_FIELD


def test_event_validation() -> None:
    with pytest.raises(ProtocolError, match="requires code"):
        Event(EventKind.FAULT, 1)
    with pytest.raises(ProtocolError, match="requires metric"):
        Event(EventKind.OVER_TEMPERATURE, 1, value=90.0)
    with pytest.raises(ProtocolError):
        Event(EventKind.OVER_TEMPERATURE, 1, value=90.0, metric="motor_temperature_c")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        Event(EventKind.COLLISION, 1, value=float("inf"))
    future = Event(42, 1)
    assert future.known_kind is None
    assert Event(EventKind.COLLISION, 1).known_kind is EventKind.COLLISION
    with pytest.raises(ProtocolError):
        EventBatch(
            robot_id=ROBOT,
            boot_id=BOOT,
            seq=1,
            prev_digest=bytes(32),
            wall_us=0,
            mono_us=0,
            events=(),
        )
    with pytest.raises(ProtocolError):
        EventBatch(
            robot_id=ROBOT,
            boot_id=BOOT,
            seq=1,
            prev_digest=bytes(32),
            wall_us=0,
            mono_us=0,
            events=("fault",),  # type: ignore[arg-type]
        )


def test_events_wire_errors(signer: RobotSigner) -> None:
    events = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=1,
        prev_digest=bytes(32),
        wall_us=0,
        mono_us=0,
        events=(Event(EventKind.COLLISION, 5, value=3.0),),
    )
    body = cbor2.loads(encode(events, signer)[10:-64])
    for bad, code in [
        ({20: [5]}, ErrorCode.BAD_FIELD),
        ({20: [{0: 3, 1: 5, 6: 3}]}, None),  # an integer value is accepted as a float
        ({20: [{0: 3, 1: 5, 6: 2**60}]}, ErrorCode.BAD_FIELD),
        ({20: [{0: 3}]}, ErrorCode.MISSING_FIELD),
        ({20: [{0: 3, 1: 5, 8: [1]}]}, ErrorCode.BAD_FIELD),
        ({20: [{0: 3, 1: 5, 8: ["x", 0]}]}, ErrorCode.BAD_FIELD),
    ]:
        payload = unsigned_frame(2, body | bad)
        signed = payload[:5] + b"\x01" + payload[6:] + bytes(64)
        if code is None:
            assert decode(signed).message.events[0].value == 3.0  # type: ignore[union-attr]
        else:
            assert code_of(signed) is code


def test_drop_notice_rules() -> None:
    base: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "seq": 20,
        "prev_digest": bytes(32),
        "wall_us": 0,
        "mono_us": 0,
        "first_seq": 5,
        "last_seq": 9,
        "digest_before": bytes(32),
        "last_digest": bytes(32),
        "reason": 1,
        "dropped_bytes": 100,
    }
    notice = DropNotice(**base)
    assert notice.covers(5)
    assert notice.covers(9)
    assert not notice.covers(10)
    for bad in ({"last_seq": 20}, {"first_seq": 10}, {"reason": 0}, {"last_digest": b""}):
        with pytest.raises(ProtocolError):
            DropNotice(**(base | bad))
