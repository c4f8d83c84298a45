"""The codec on telemetry and every kind: round trips, batches built and refused, column blocks."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import cbor2
import numpy as np
import pytest

from firmware_protocol import (
    Config,
    DropNotice,
    ErrorCode,
    EventBatch,
    Form,
    LimitExceededError,
    MetricKey,
    ProtocolError,
    RobotSigner,
    Status,
    TelemetryBatch,
    TelemetryRows,
    decode,
    encode,
    payload_digest,
    to_json,
)
from tests.unit.protocol.codec_support import BOOT, ROBOT, code_of, unsigned_frame


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


def _signed_frame(body: dict[int, Any]) -> bytes:
    unsigned = unsigned_frame(1, body)
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
    assert code_of(_signed_frame(body | change)) is code


def test_missing_block_is_a_missing_field(signer: RobotSigner) -> None:
    body = cbor2.loads(encode(_batch(), signer, compress=False)[10:-64])
    del body[16]
    assert code_of(_signed_frame(body)) is ErrorCode.MISSING_FIELD


def test_heartbeat_batch_without_metrics(signer: RobotSigner) -> None:
    batch = _batch(series={})
    assert decode(encode(batch, signer)).message == batch
