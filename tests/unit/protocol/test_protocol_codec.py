from __future__ import annotations

import json
import struct
import uuid
from types import ModuleType
from typing import Any

import cbor2
import numpy as np
import pytest

from firmware_protocol import (
    Ack,
    Config,
    DropNotice,
    ErrorCode,
    Event,
    EventBatch,
    EventKind,
    Form,
    LimitExceededError,
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
    TelemetryRows,
    Topic,
    TopicError,
    TopicKind,
    decode,
    encode,
    payload_digest,
    to_json,
)
from firmware_protocol.limits import MAX_PAYLOAD_BYTES

ROBOT = uuid.UUID("6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
BOOT = uuid.UUID("00112233-4455-4677-8899-aabbccddeeff")


def _code(payload: Any, **kwargs: Any) -> ErrorCode:
    with pytest.raises(ProtocolError) as caught:
        decode(payload, **kwargs)
    return caught.value.code


def _batch(**overrides: Any) -> TelemetryBatch:
    return TelemetryBatch.from_values(**_fields(**overrides))


def _fields(**overrides: Any) -> dict[str, Any]:
    """from_values arguments, for TelemetryBatch and TelemetryRows alike."""
    fields: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "seq": 3,
        "prev_digest": b"\x01" * 32,
        "wall_us": 1,
        "mono_us": 2,
        "timestamps_us": [10, 20, 30],
        "series": {"battery_soc_pct": [50.0, 50.1, 50.2], "motor_current_a.2": [1.0, 1.5, 2.0]},
    }
    fields.update(overrides)
    return fields


def _messages(generator: ModuleType) -> list[Any]:
    return [generator.typical_batch(), _batch(), *_non_telemetry(generator)]


def _non_telemetry(generator: ModuleType) -> list[Any]:
    from firmware_protocol import decode as dec

    return [
        dec(v.payload).message
        for v in generator._valid_vectors()
        if v.verify is None and not v.name.startswith(("telemetry", "minor"))
    ]


@pytest.mark.parametrize("compress", [True, False])
def test_every_kind_round_trips(generator: ModuleType, signer: RobotSigner, compress: bool) -> None:
    for message in _messages(generator):
        payload = encode(message, signer, compress=compress)
        decoded = decode(payload)
        assert decoded.message == message
        assert decoded.kind is message.KIND
        assert decoded.form is Form.BINARY
        assert decoded.digest == payload_digest(payload)
        assert (decoded.major, decoded.minor) == (1, _lowest_minor(message))


def _lowest_minor(message: Any) -> int:
    """What encoders write: 1 exactly when a 1.1 field or event kind is used, else 0."""
    uses_1_1 = (
        (isinstance(message, DropNotice) and message.dropped_samples is not None)
        or (isinstance(message, Status) and message.config_version is not None)
        or (
            isinstance(message, Config)
            and (message.read_interval_ms, message.collectors) != (None, None)
        )
        or (isinstance(message, EventBatch) and any(e.kind in (9, 10) for e in message.events))
    )
    return 1 if uses_1_1 else 0


def test_every_kind_round_trips_as_json(generator: ModuleType) -> None:
    for message in _messages(generator):
        decoded = decode(to_json(message))
        assert decoded.message == message
        assert decoded.minor == _lowest_minor(message)
        assert decoded.form is Form.JSON
        assert decoded.signature is None
        assert decoded.link is None or decoded.link.seq == message.seq


def test_typical_batch_meets_the_size_target(
    typical_batch: TelemetryBatch, signer: RobotSigner
) -> None:
    assert typical_batch.sample_count == 1200
    assert len(encode(typical_batch, signer)) / 1200 <= 4.0
    assert len(encode(typical_batch, signer, compress=False)) / 1200 <= 4.0


def test_values_are_exact_decimals_and_read_only(typical_batch: TelemetryBatch) -> None:
    q = typical_batch.quantized
    np.testing.assert_array_equal(typical_batch.values[0], q[0] / 100)
    assert typical_batch.series("joint_temperature_c.1") is not None
    with pytest.raises(KeyError):
        typical_batch.series("battery_voltage_v")
    with pytest.raises(ValueError, match="read-only"):
        typical_batch.values[0, 0] = 1.0
    assert typical_batch != "a batch"
    assert typical_batch.series(MetricKey("joint_temperature_c", 1))[0] == q[0, 0] / 100


def test_positive_exponent_and_vendor_metric() -> None:
    batch = _batch(
        series={"x_acme_flow_l": [1000.0, 2000.0, 123456.0]}, exponents={"x_acme_flow_l": 2}
    )
    assert batch.quantized.tolist() == [[10, 20, 1235]]
    assert batch.values.tolist() == [[1000.0, 2000.0, 123500.0]]
    with pytest.raises(ProtocolError, match="explicit exponent"):
        _batch(series={"x_acme_flow_l": [1.0, 2.0, 3.0]})


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"timestamps_us": [10, 10, 30]}, ErrorCode.BAD_FIELD),
        ({"timestamps_us": [-1, 10, 30]}, ErrorCode.BAD_FIELD),
        ({"series": {"battery_soc_pct": [1.0, float("nan"), 2.0]}}, ErrorCode.BAD_FIELD),
        ({"series": {"battery_soc_pct": [1.0, 1e300, 2.0]}}, ErrorCode.LIMIT_EXCEEDED),
        ({"series": {"battery_soc_pct": [0.0, 1e9, 0.0]}}, ErrorCode.LIMIT_EXCEEDED),
        ({"series": {"battery_soc_pct": ["a", "b", "c"]}}, ErrorCode.BAD_FIELD),
        ({"timestamps_us": [], "series": {}}, ErrorCode.LIMIT_EXCEEDED),
        ({"seq": 0}, ErrorCode.BAD_FIELD),
        ({"seq": -1}, ErrorCode.BAD_FIELD),
        ({"prev_digest": b"short"}, ErrorCode.BAD_FIELD),
        ({"robot_id": "not-a-uuid"}, ErrorCode.BAD_FIELD),
        ({"exponents": {"battery_soc_pct": 11}}, ErrorCode.BAD_FIELD),
    ],
)
@pytest.mark.parametrize("cls", [TelemetryBatch, TelemetryRows])
def test_invalid_batches_cannot_be_built(
    overrides: dict[str, Any], code: ErrorCode, cls: type[TelemetryBatch | TelemetryRows]
) -> None:
    def build_and_encode() -> bytes:
        return encode(cls.from_values(**_fields(**overrides)), RobotSigner.generate())

    with pytest.raises(ProtocolError) as caught:
        build_and_encode()
    assert caught.value.code is code


def test_batch_constructor_checks_shapes() -> None:
    good = _batch()
    base: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "seq": 1,
        "prev_digest": bytes(32),
        "wall_us": 0,
        "mono_us": 0,
        "timestamps_us": good.timestamps_us.copy(),
        "keys": good.keys,
        "exponents": good.exponents,
        "quantized": good.quantized.copy(),
    }
    bad_cases: list[dict[str, Any]] = [
        {"timestamps_us": [1, 2, 3]},
        {"quantized": good.quantized.astype(np.int32)},
        {"keys": list(good.keys)},
        {"keys": (good.keys[0],)},
        {"keys": (good.keys[0], good.keys[0])},
        {"keys": ("battery_soc_pct", good.keys[1])},
        {"exponents": (1.5, 0)},
        {"quantized": np.zeros((300, 3), np.int64), "keys": good.keys},
        {"quantized": np.full((2, 3), 2**60, np.int64)},
    ]
    for case in bad_cases:
        with pytest.raises(ProtocolError):
            TelemetryBatch(**(base | case))
    assert TelemetryBatch(**base) == TelemetryBatch(**base)


@pytest.mark.parametrize("cls", [TelemetryBatch, TelemetryRows])
def test_large_steps_are_refused_at_encode(
    signer: RobotSigner, cls: type[TelemetryBatch | TelemetryRows]
) -> None:
    batch = cls.from_values(**_fields(series={"battery_soc_pct": [0.0, 3e8, 0.0]}))
    with pytest.raises(LimitExceededError):
        encode(batch, signer)


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
    assert _code("text") is ErrorCode.MALFORMED
    assert _code(b"") is ErrorCode.TRUNCATED
    assert _code(b"R") is ErrorCode.TRUNCATED
    assert _code(b"Q") is ErrorCode.BAD_MAGIC
    assert _code(bytes(MAX_PAYLOAD_BYTES + 1)) is ErrorCode.TOO_LARGE
    assert _code(to_json(typical_batch), allow_json=False) is ErrorCode.BAD_MAGIC


def _frame(kind: int, body: Any, minor: int = 0) -> bytes:
    raw = cbor2.dumps(body) if not isinstance(body, bytes) else body
    return b"RC" + bytes([1, minor, kind, 0]) + struct.pack(">I", len(raw)) + raw


def test_cloud_kinds_may_be_unsigned_robot_kinds_may_not() -> None:
    ack = Ack(robot_id=ROBOT, wall_us=5, committed=(SeqRange(1, 2),))
    assert decode(encode(ack)).message == ack
    body = cbor2.loads(encode(ack)[10:])
    assert _code(_frame(2, body)) is ErrorCode.UNSIGNED
    assert decode(_frame(6, body)).signature is None


def test_versioning_rules(signer: RobotSigner) -> None:
    ack = Ack(robot_id=ROBOT, wall_us=5, committed=(SeqRange(1, 2),))
    body = cbor2.loads(encode(ack)[10:]) | {77: [1, 2, 3]}
    assert decode(_frame(6, body, minor=3)).message == ack
    assert _code(_frame(6, body, minor=2)) is ErrorCode.UNKNOWN_FIELD
    assert _code(_frame(6, body, minor=1)) is ErrorCode.UNKNOWN_FIELD
    assert _code(_frame(6, body, minor=0)) is ErrorCode.UNKNOWN_FIELD
    as_json = to_json(ack).replace(b'"rc":"1.0"', b'"rc":"1.4","future":1')
    assert decode(as_json).message == ack
    assert _code(as_json.replace(b"1.4", b"1.0")) is ErrorCode.UNKNOWN_FIELD
    assert _code(b'{"kind":"ack"}') is ErrorCode.MISSING_FIELD
    assert _code(b"RC\x07\x00\x06\x00\x00\x00\x00\x00") is ErrorCode.UNSUPPORTED_MAJOR_VERSION


def test_null_means_absent() -> None:
    config = Config(robot_id=ROBOT, config_version=1, wall_us=0)
    body = cbor2.loads(encode(config)[10:]) | {51: None}
    assert decode(_frame(5, body)).message == config


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
    assert _code(_frame(6, body)) is code


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
    assert _code(_frame(4, body)) is ErrorCode.UNSIGNED
    signed = b"RC\x01\x00\x04\x01" + _frame(4, body)[6:] + bytes(64)
    assert _code(signed) is ErrorCode.BAD_FIELD
    assert _code(b'{"rc":"1.0","kind":"status","catalogue":[5]}') is ErrorCode.MISSING_FIELD
    status = (
        b'{"rc":"1.0","kind":"status","robot_id":"'
        + str(ROBOT).encode()
        + b'","boot_id":"'
        + str(BOOT).encode()
        + b'","wall_us":0,"mono_us":0,"state":2,"catalogue":[5]}'
    )
    assert _code(status) is ErrorCode.BAD_FIELD


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
        payload = _frame(2, body | bad)
        signed = payload[:5] + b"\x01" + payload[6:] + bytes(64)
        if code is None:
            assert decode(signed).message.events[0].value == 3.0  # type: ignore[union-attr]
        else:
            assert _code(signed) is code


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


def test_json_errors(typical_batch: TelemetryBatch) -> None:
    good = to_json(typical_batch)
    assert _code(b"[1]") is ErrorCode.BAD_MAGIC
    assert _code(b"{" * 100_000) is ErrorCode.MALFORMED
    assert _code(b'{"rc":"1.0","kind":"ack","wall_us":' + b"9" * 5000 + b"}") is (
        ErrorCode.MALFORMED
    )
    assert _code(b'{"rc":1.0,"kind":"ack"}') is ErrorCode.MISSING_FIELD
    cases = [
        (b'"timestamps_us":[', b'"timestamps_us":[1.5,', ErrorCode.BAD_FIELD),
        (b'"timestamps_us":[', b'"timestamps_us":[-5,', ErrorCode.BAD_FIELD),
        (b'"timestamps_us":[', b'"timestamps_us":"x","y":[', ErrorCode.BAD_FIELD),
        (b'"metrics":[', b'"metrics":[1,', ErrorCode.BAD_FIELD),
        (
            b'"metrics":[',
            b'"metrics":[{"key":"battery_soc_pct","exp":0,"values":[1]},',
            ErrorCode.BAD_FIELD,
        ),
        (
            b'"metrics":[',
            b'"metrics":[{"key":"battery_soc_pct","exp":0.5,"values":[]},',
            ErrorCode.BAD_FIELD,
        ),
        (b'"metrics":[', b'"metrics":[{"key":7,"exp":0,"values":[]},', ErrorCode.BAD_FIELD),
        (b'"robot_id":"', b'"robot_id":"X', ErrorCode.BAD_FIELD),
        (b'"robot_id":"', b'"robot_id":7,"x":"', ErrorCode.BAD_FIELD),
        (b'"prev_digest":"', b'"prev_digest":"zz', ErrorCode.BAD_FIELD),
        (b'"prev_digest":"', b'"prev_digest":7,"x":"', ErrorCode.BAD_FIELD),
    ]
    for old, new, code in cases:
        # minor 1.3: the helper keys ("x", "y") are ignored, so the tested field is reached
        mutated = good.replace(old, new, 1).replace(b'"rc":"1.0"', b'"rc":"1.3"')
        assert mutated != good
        assert _code(mutated) is code, (new, code)
    no_metrics = good[: good.index(b',"metrics"')] + b"}"
    assert _code(no_metrics) is ErrorCode.MISSING_FIELD
    huge = good.replace(b'"values":[', b'"values":[1e30,', 1).replace(
        b'"timestamps_us":[', b'"timestamps_us":[0,', 1
    )
    assert _code(huge) is ErrorCode.LIMIT_EXCEEDED
    upper = good.replace(str(ROBOT).encode(), str(ROBOT).upper().encode())
    assert _code(upper) is ErrorCode.BAD_FIELD


def _telemetry_json(stamps: list[int], metrics: list[str]) -> bytes:
    head = (
        '{"rc":"1.0","kind":"telemetry","robot_id":"'
        + str(ROBOT)
        + '","boot_id":"'
        + str(BOOT)
        + '","seq":0,"prev_digest":"'
        + "00" * 32
        + '","wall_us":0,"mono_us":0,'
        '"timestamps_us":'
    )
    return f'{head}{json.dumps(stamps)},"metrics":[{",".join(metrics)}]}}'.encode()


def _metric_json(index: int, values: list[int]) -> str:
    return json.dumps({"key": f"x_a_m{index}", "exp": 0, "values": values})


def test_json_limits() -> None:
    assert _code(_telemetry_json(list(range(1, 4098)), [])) is ErrorCode.LIMIT_EXCEEDED
    too_many = [_metric_json(i, [1]) for i in range(257)]
    assert _code(_telemetry_json([1], too_many)) is ErrorCode.BAD_FIELD
    too_big = _telemetry_json(list(range(1, 301)), [_metric_json(i, [1] * 300) for i in range(250)])
    assert len(too_big) < MAX_PAYLOAD_BYTES
    assert _code(too_big) is ErrorCode.LIMIT_EXCEEDED


def _signed_frame(body: dict[int, Any]) -> bytes:
    unsigned = _frame(1, body)
    return unsigned[:5] + b"\x01" + unsigned[6:] + bytes(64)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({10: "0"}, ErrorCode.BAD_FIELD),
        ({10: -1}, ErrorCode.BAD_FIELD),
        ({11: [0, 1]}, ErrorCode.BAD_FIELD),
        ({11: [0, 1, "text"]}, ErrorCode.BAD_FIELD),
        ({11: [0, 3, b"\x00\x00\x00"]}, ErrorCode.BAD_FIELD),
        ({11: [5, 1, b"\x00"]}, ErrorCode.UNSUPPORTED_ENCODING),
        ({11: [1, 1, b"junk"]}, ErrorCode.DECOMPRESSION_FAILED),
        ({11: [1, 1, bytes.fromhex("28b52ffd000000")]}, ErrorCode.BAD_FIELD),
        ({11: [0, 1, b""]}, ErrorCode.BAD_FIELD),
        ({11: [0, 2, b"\x00\x00\x00"]}, ErrorCode.BAD_FIELD),
        ({11: [0, 1, b"\x01" * 4097]}, ErrorCode.LIMIT_EXCEEDED),
        ({12: [True, 5]}, ErrorCode.BAD_FIELD),
        ({12: [1.0, 5]}, ErrorCode.BAD_FIELD),
        ({12: [[1], 5]}, ErrorCode.BAD_FIELD),
        ({12: [1] * 257}, ErrorCode.LIMIT_EXCEEDED),
        ({13: b"\x00"}, ErrorCode.BAD_FIELD),
        ({15: b"\x00" * 17}, ErrorCode.BAD_FIELD),
        ({15: (-(2**60)).to_bytes(8, "little", signed=True) * 2}, ErrorCode.LIMIT_EXCEEDED),
        ({15: (2**60).to_bytes(8, "little") * 2}, ErrorCode.LIMIT_EXCEEDED),
        ({15: (2**63 - 1).to_bytes(8, "little") * 2}, ErrorCode.LIMIT_EXCEEDED),
        ({15: (2**63).to_bytes(8, "little") * 2}, ErrorCode.LIMIT_EXCEEDED),
        ({11: [0, 1, b"\x01" * 300]}, ErrorCode.LIMIT_EXCEEDED),
        ({12: [9, 9], 13: b"\x00\x00"}, ErrorCode.BAD_FIELD),
    ],
)
def test_telemetry_block_errors(
    change: dict[int, Any], code: ErrorCode, signer: RobotSigner
) -> None:
    batch = _batch()
    body = cbor2.loads(encode(batch, signer, compress=False)[10:-64])
    assert decode(_signed_frame(body)).message == batch
    if 12 in change and len(change[12]) > 2:
        n = len(change[12])
        change = change | {13: bytes(n), 14: bytes(n), 15: bytes(8 * n)}
    if 11 in change and code is ErrorCode.LIMIT_EXCEEDED and len(change[11][2]) == 300:
        change = change | {
            12: list(range(1, 256)),
            13: bytes(255),
            14: bytes(255),
            15: bytes(8 * 255),
        }
    assert _code(_signed_frame(body | change)) is code


def test_missing_block_is_a_missing_field(signer: RobotSigner) -> None:
    body = cbor2.loads(encode(_batch(), signer, compress=False)[10:-64])
    del body[16]
    assert _code(_signed_frame(body)) is ErrorCode.MISSING_FIELD


def test_heartbeat_batch_without_metrics(signer: RobotSigner) -> None:
    batch = _batch(series={})
    assert decode(encode(batch, signer)).message == batch
