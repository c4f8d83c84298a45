"""TelemetryRows (pure Python, what robots send) against TelemetryBatch (numpy, what decode gives).

The two must accept exactly the same values, refuse the rest with the same error class, quantize
to the same quanta and encode to the same bytes. (The block encoder both use is held to the
format's specification in test_protocol_blocks.py.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_protocol import (
    InvalidFieldError,
    LimitExceededError,
    MetricKey,
    ProtocolError,
    RobotSigner,
    TelemetryBatch,
    TelemetryRows,
    decode,
    encode,
    to_json,
)
from firmware_protocol.limits import (
    MAX_CELLS_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_QUANTIZED_MAGNITUDE,
    MAX_SAMPLES_PER_BATCH,
    MAX_TIME_US,
)
from firmware_protocol.telemetry import quantize
from tests.unit.protocol.codec_support import BOOT, ROBOT, outcome

PROFILE = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
SIGNER = RobotSigner.from_seed(bytes(range(32)))
Q = MAX_QUANTIZED_MAGNITUDE
KEY_POOL = (
    MetricKey("battery_soc_pct"),
    MetricKey("motor_current_a", 1),
    MetricKey("motor_current_a", 2),
    MetricKey("x_acme_force_n", 0),
    MetricKey("x_acme_force_n", 7),
)


def _as_batch(fields: dict[str, Any]) -> TelemetryBatch:
    """The numpy twin of TelemetryRows fields (same values as int64 arrays)."""
    stamps, rows = fields["timestamps_us"], fields["quantized"]
    columns = len(rows[0]) if rows else len(stamps)
    return TelemetryBatch(
        **(
            fields
            | {
                "timestamps_us": np.asarray(stamps, dtype=np.int64).reshape(-1),
                "quantized": np.asarray(rows, dtype=np.int64).reshape(len(rows), columns),
            }
        )
    )


# ---------------------------------------------------------------- constructor parity

near_limit = st.sampled_from([Q, -Q, Q + 1, -Q - 1, Q - 1, 0])
quanta = st.integers(-(2**40), 2**40) | near_limit


@st.composite
def row_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly valid fields, with each invariant broken now and then (about 1 in 8 each)."""

    def rarely() -> bool:
        return draw(st.integers(0, 7)) == 0

    samples = draw(st.sampled_from([0, 1, 5])) if rarely() else draw(st.integers(1, 6))
    start = draw(st.integers(0, 2**40))
    if rarely():
        start = draw(st.sampled_from([-1, MAX_TIME_US - 3, MAX_TIME_US]))
    steps = draw(st.lists(st.integers(1, 2**31), min_size=samples, max_size=samples))
    if samples > 1 and rarely():
        steps[draw(st.integers(1, samples - 1))] = draw(st.sampled_from([0, -1]))
    stamps = [start + sum(steps[1 : i + 1]) for i in range(samples)]
    metrics = draw(st.integers(0, 4))
    width = max(0, samples + draw(st.sampled_from([1, -1]))) if rarely() else samples
    rows = tuple(
        tuple(draw(st.lists(quanta, min_size=width, max_size=width))) for _ in range(metrics)
    )
    key_count = max(0, metrics + draw(st.sampled_from([1, -1]))) if rarely() else metrics
    exp_count = max(0, metrics + draw(st.sampled_from([1, -1]))) if rarely() else metrics
    keys = [
        draw(st.sampled_from(KEY_POOL)) if not rarely() else "battery_soc_pct"
        for _ in range(key_count)
    ]
    exponents = [
        draw(st.integers(-9, 9)) if not rarely() else draw(st.sampled_from([-10, 10, True, 1.5]))
        for _ in range(exp_count)
    ]
    seq = draw(st.sampled_from([-1, 0])) if rarely() else draw(st.integers(1, 3))
    prev = bytes(32) if seq == 0 else b"\x01" * 32
    return {
        "robot_id": "not-a-uuid" if rarely() else ROBOT,
        "boot_id": BOOT,
        "seq": seq,
        "prev_digest": draw(st.sampled_from([b"short", b"\x01" * 32])) if rarely() else prev,
        "wall_us": draw(st.integers(-(2**54), 2**54)),
        "mono_us": draw(st.integers(0, 2**54)),
        "timestamps_us": tuple(stamps),
        "keys": tuple(keys),
        "exponents": tuple(exponents),
        "quantized": rows,
    }


@PROFILE
@given(row_fields())
def test_rows_accept_exactly_what_batches_accept(fields: dict[str, Any]) -> None:
    rows_error, rows = outcome(lambda: TelemetryRows(**fields))
    batch_error, batch = outcome(lambda: _as_batch(fields))
    assert rows_error is batch_error
    if rows is not None:
        assert rows.to_batch() == batch
        assert batch.to_rows() == rows
        assert rows.sample_count == batch.sample_count


def _fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "seq": 1,
        "prev_digest": b"\x01" * 32,
        "wall_us": 0,
        "mono_us": 0,
        "timestamps_us": (10, 20, 30),
        "keys": (KEY_POOL[0], KEY_POOL[1]),
        "exponents": (-1, -3),
        "quantized": ((500, 501, 502), (1000, -1500, 2000)),
    }
    return fields | overrides


def _square(metrics: int, samples: int) -> dict[str, Any]:
    keys = tuple(MetricKey(f"x_acme_m{i}", 0) for i in range(metrics))
    return {
        "timestamps_us": tuple(range(samples)),
        "keys": keys,
        "exponents": (0,) * metrics,
        "quantized": ((0,) * samples,) * metrics,
    }


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({}, None),
        (_square(1, MAX_SAMPLES_PER_BATCH), None),
        (_square(1, MAX_SAMPLES_PER_BATCH + 1), LimitExceededError),
        (_square(MAX_METRICS_PER_BATCH, 1), None),
        (_square(MAX_METRICS_PER_BATCH + 1, 1), LimitExceededError),
        (_square(16, MAX_CELLS_PER_BATCH // 16), None),
        (_square(17, MAX_CELLS_PER_BATCH // 16), LimitExceededError),
        (_square(0, 3), None),
        ({"timestamps_us": (), "quantized": ((), ())}, LimitExceededError),
        ({"timestamps_us": (10, 20, 20)}, InvalidFieldError),
        ({"timestamps_us": (10, 20, MAX_TIME_US + 1)}, InvalidFieldError),
        ({"timestamps_us": (10, 20, MAX_TIME_US)}, None),
        ({"quantized": ((Q, -Q, 0), (0, 0, 0))}, None),
        ({"quantized": ((Q + 1, 0, 0), (0, 0, 0))}, LimitExceededError),
        ({"quantized": ((0, 0, 0), (0, 0, -Q - 1))}, LimitExceededError),
        ({"keys": (KEY_POOL[0], KEY_POOL[0])}, InvalidFieldError),
        ({"keys": ("battery_soc_pct", KEY_POOL[1])}, InvalidFieldError),
        ({"exponents": (-10, 0)}, InvalidFieldError),
        ({"exponents": (9, -9)}, None),
        ({"exponents": (False, 0)}, InvalidFieldError),
        ({"exponents": [0, 0]}, InvalidFieldError),
        ({"keys": (KEY_POOL[0],)}, InvalidFieldError),
        ({"seq": 0}, InvalidFieldError),
        ({"mono_us": -1}, InvalidFieldError),
    ],
)
def test_edge_cases_agree(overrides: dict[str, Any], error: type[ProtocolError] | None) -> None:
    fields = _fields(**overrides)
    assert outcome(lambda: TelemetryRows(**fields))[0] is error
    assert outcome(lambda: _as_batch(fields))[0] is error


@pytest.mark.parametrize(
    "overrides",
    [
        {"timestamps_us": [10, 20, 30]},
        {"timestamps_us": (10, 20, 30.0)},
        {"timestamps_us": (10, 20, True)},
        {"quantized": [(500, 501, 502), (1000, -1500, 2000)]},
        {"quantized": ((500, 501, 502), [1000, -1500, 2000])},
        {"quantized": ((500, 501, 502.0), (1000, -1500, 2000))},
        {"quantized": ((500, 501, 502), (1000, -1500))},
    ],
)
def test_rows_refuse_what_is_not_tuples_of_ints(overrides: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        TelemetryRows(**_fields(**overrides))


# ---------------------------------------------------------------- quantization parity

readings = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(-1e6, 1e6)
    | st.integers(-(10**7), 10**7).map(lambda n: (n + 0.5) / 1000)  # ties at some exponent
    | st.integers(-(2**60), 2**60).map(float)
)


@st.composite
def value_series(draw: st.DrawFn) -> tuple[list[int], dict[MetricKey, list[float]], dict[Any, int]]:
    samples = draw(st.integers(1, 8))
    chosen = draw(st.lists(st.sampled_from(KEY_POOL), min_size=0, max_size=4, unique=True))
    series = {key: draw(st.lists(readings, min_size=samples, max_size=samples)) for key in chosen}
    exps = {key: draw(st.integers(-9, 9)) for key in chosen if key.is_vendor or draw(st.booleans())}
    stamps = sorted(draw(st.sets(st.integers(0, 2**40), min_size=samples, max_size=samples)))
    return stamps, series, exps


@PROFILE
@given(value_series())
def test_from_values_quantizes_bit_for_bit_as_numpy(
    case: tuple[list[int], dict[MetricKey, list[float]], dict[Any, int]],
) -> None:
    stamps, series, exps = case
    common: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "seq": 2,
        "prev_digest": b"\x02" * 32,
        "wall_us": 5,
        "mono_us": 6,
        "timestamps_us": stamps,
        "series": series,
        "exponents": exps,
    }
    rows_error, rows = outcome(lambda: TelemetryRows.from_values(**common))
    batch_error, batch = outcome(lambda: TelemetryBatch.from_values(**common))
    assert rows_error is batch_error
    if rows is not None:
        assert rows.quantized == tuple(map(tuple, batch.quantized.tolist()))
        assert rows.to_batch() == batch
        assert to_json(rows) == to_json(batch)


@PROFILE
@given(
    st.lists(readings, min_size=1, max_size=20),
    st.integers(-9, 9),
    st.integers(-9, 9),
)
def test_quantize_rows_matches_numpy_quantize(
    values: list[float], exponent: int, other: int
) -> None:
    """Two rows, so that a positive exponent in one changes numpy's path (`up`) for both."""
    from firmware_protocol.rows import quantize_rows

    rows = [values, values[::-1]]
    exps = (exponent, other)
    rows_error, mine = outcome(lambda: quantize_rows(rows, exps))
    numpy_error, theirs = outcome(lambda: quantize(np.asarray(rows, dtype=np.float64), exps))
    assert rows_error is numpy_error
    if mine is not None:
        assert mine == tuple(map(tuple, theirs.tolist()))


def test_from_values_errors() -> None:
    common: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "seq": 2,
        "prev_digest": b"\x02" * 32,
        "wall_us": 5,
        "mono_us": 6,
    }
    for cls in (TelemetryRows, TelemetryBatch):
        with pytest.raises(InvalidFieldError, match="explicit exponent"):
            cls.from_values(**common, timestamps_us=[1], series={"x_acme_force_n": [1.0]})
        with pytest.raises(InvalidFieldError):
            cls.from_values(**common, timestamps_us=[1, 2], series={"battery_soc_pct": [1.0]})
        with pytest.raises(InvalidFieldError):
            cls.from_values(**common, timestamps_us=[1], series={"battery_soc_pct": [math.nan]})
        with pytest.raises(LimitExceededError):
            cls.from_values(**common, timestamps_us=[1], series={"battery_soc_pct": [1e300]})
        with pytest.raises(InvalidFieldError):
            cls.from_values(**common, timestamps_us=[1], series={"battery_soc_pct": [None]})  # type: ignore[arg-type]
    # Integers only, for timestamps: numpy would silently truncate 1.5 to 1.
    with pytest.raises(InvalidFieldError):
        TelemetryRows.from_values(**common, timestamps_us=[1.5], series={})  # type: ignore[list-item]
    rows = TelemetryRows.from_values(
        **common,
        timestamps_us=[np.int64(7), 8],  # type: ignore[list-item]
        series={"x_acme_force_n.7": [1000.0, 123456.0], "battery_soc_pct": [50.05, 50.15]},
        exponents={MetricKey("x_acme_force_n", 7): 2},
    )
    assert rows.timestamps_us == (7, 8)
    assert rows.quantized == ((10, 1235), (500, 502))
    assert rows.exponents == (2, -1)
    assert rows.sample_count == 4


# ---------------------------------------------------------------- encoding parity


@st.composite
def valid_rows(draw: st.DrawFn) -> TelemetryRows:
    samples = draw(st.integers(1, 30))
    chosen = draw(st.lists(st.sampled_from(KEY_POOL), max_size=5, unique=True))
    step = st.integers(1, 2**31 - 1) | st.integers(1, 300) | st.sampled_from([2**31, 2**31 + 5])
    steps = draw(st.lists(step, min_size=samples - 1, max_size=samples - 1))
    stamps = [draw(st.integers(0, 2**40))]
    for s in steps:
        stamps.append(stamps[-1] + s)
    delta = st.integers(-127, 127) | st.integers(-(2**15), 2**15) | st.integers(-(2**31), 2**31)
    rows = []
    for _ in chosen:
        row = [max(-Q, min(Q, draw(st.integers(-(2**40), 2**40) | near_limit)))]
        for d in draw(st.lists(delta, min_size=samples - 1, max_size=samples - 1)):
            row.append(max(-Q, min(Q, row[-1] + d)))
        rows.append(tuple(row))
    seq = draw(st.integers(0, 2**63 - 1))
    return TelemetryRows(
        robot_id=draw(st.uuids()),
        boot_id=draw(st.uuids()),
        seq=seq,
        prev_digest=bytes(32) if seq == 0 else draw(st.binary(min_size=32, max_size=32)),
        wall_us=draw(st.integers(-(2**54), 2**54)),
        mono_us=draw(st.integers(0, 2**54)),
        timestamps_us=tuple(stamps),
        keys=tuple(chosen),
        exponents=tuple(draw(st.integers(-9, 9)) for _ in chosen),
        quantized=tuple(rows),
    )


@PROFILE
@given(valid_rows(), st.booleans())
def test_rows_and_batches_encode_to_the_same_bytes(rows: TelemetryRows, compress: bool) -> None:
    batch = rows.to_batch()
    rows_error, payload = outcome(lambda: encode(rows, SIGNER, compress=compress))
    batch_error, batch_payload = outcome(lambda: encode(batch, SIGNER, compress=compress))
    assert rows_error is batch_error
    if payload is None:
        assert rows_error is LimitExceededError  # a step beyond 2**31 - 1
        return
    assert payload == batch_payload
    assert decode(payload).message == batch


@PROFILE
@given(valid_rows())
def test_rows_json_form_matches_the_batch(rows: TelemetryRows) -> None:
    batch = rows.to_batch()
    assert to_json(rows) == to_json(batch)
    if all(abs(q) < 2**50 for row in rows.quantized for q in row):  # JSON floats: exact below
        assert decode(to_json(rows)).message == batch
