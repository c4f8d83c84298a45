"""The codec on the JSON debug form: the errors it refuses and the limits it enforces."""

from __future__ import annotations

import json

from firmware_protocol import ErrorCode, TelemetryBatch, to_json
from firmware_protocol.limits import MAX_PAYLOAD_BYTES
from tests.unit.protocol.codec_support import BOOT, ROBOT, code_of


def test_json_errors(typical_batch: TelemetryBatch) -> None:
    good = to_json(typical_batch)
    assert code_of(b"[1]") is ErrorCode.BAD_MAGIC
    assert code_of(b"{" * 100_000) is ErrorCode.MALFORMED
    assert code_of(b'{"rc":"1.0","kind":"ack","wall_us":' + b"9" * 5000 + b"}") is (
        ErrorCode.MALFORMED
    )
    assert code_of(b'{"rc":1.0,"kind":"ack"}') is ErrorCode.MISSING_FIELD
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
        assert code_of(mutated) is code, (new, code)
    no_metrics = good[: good.index(b',"metrics"')] + b"}"
    assert code_of(no_metrics) is ErrorCode.MISSING_FIELD
    huge = good.replace(b'"values":[', b'"values":[1e30,', 1).replace(
        b'"timestamps_us":[', b'"timestamps_us":[0,', 1
    )
    assert code_of(huge) is ErrorCode.LIMIT_EXCEEDED
    upper = good.replace(str(ROBOT).encode(), str(ROBOT).upper().encode())
    assert code_of(upper) is ErrorCode.BAD_FIELD


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
    assert code_of(_telemetry_json(list(range(1, 4098)), [])) is ErrorCode.LIMIT_EXCEEDED
    too_many = [_metric_json(i, [1]) for i in range(257)]
    assert code_of(_telemetry_json([1], too_many)) is ErrorCode.BAD_FIELD
    too_big = _telemetry_json(list(range(1, 301)), [_metric_json(i, [1] * 300) for i in range(250)])
    assert len(too_big) < MAX_PAYLOAD_BYTES
    assert code_of(too_big) is ErrorCode.LIMIT_EXCEEDED
