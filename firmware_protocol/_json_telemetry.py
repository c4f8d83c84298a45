"""Telemetry columns in the JSON debug form: plain lists instead of encoded blocks."""

from __future__ import annotations

from typing import Any

import numpy as np

from firmware_protocol import _schema
from firmware_protocol.errors import ErrorCode, InvalidFieldError, LimitExceededError
from firmware_protocol.limits import (
    MAX_CELLS_PER_BATCH,
    MAX_EXPONENT,
    MAX_METRICS_PER_BATCH,
    MAX_QUANTIZED_MAGNITUDE,
    MAX_SAMPLES_PER_BATCH,
    MAX_TIME_US,
)
from firmware_protocol.messages import TelemetryBatch, quantize

_MAX_JSON_VALUE = float(MAX_QUANTIZED_MAGNITUDE) * 10.0**MAX_EXPONENT


def _numbers(value: Any, what: str, kinds: tuple[type, ...]) -> list[Any]:
    if type(value) is not list:
        raise InvalidFieldError(f"{what} must be an array", ErrorCode.BAD_FIELD)
    if len(value) > MAX_SAMPLES_PER_BATCH:
        raise LimitExceededError(f"{what} holds more than {MAX_SAMPLES_PER_BATCH} samples")
    # A per-sample type check is acceptable here: JSON is the debugging form, not the fast path.
    if not all(type(x) in kinds for x in value):
        raise InvalidFieldError(f"{what} must hold only numbers")
    return value


def telemetry_columns(body: dict[Any, Any]) -> dict[str, Any]:
    if "timestamps_us" not in body or "metrics" not in body:
        raise InvalidFieldError("telemetry lacks timestamps_us or metrics", ErrorCode.MISSING_FIELD)
    stamps = _numbers(body["timestamps_us"], "timestamps_us", (int,))
    if not all(0 <= t <= MAX_TIME_US for t in stamps):
        raise InvalidFieldError("timestamps_us must lie within 0..2**62")
    metrics = body["metrics"]
    if type(metrics) is not list or len(metrics) > MAX_METRICS_PER_BATCH:
        raise InvalidFieldError(f"metrics must be an array of at most {MAX_METRICS_PER_BATCH}")
    if len(metrics) * len(stamps) > MAX_CELLS_PER_BATCH:
        raise LimitExceededError(f"more than {MAX_CELLS_PER_BATCH} values")
    keys, exps, rows = [], [], []
    for entry in metrics:
        if type(entry) is not dict or {"key", "exp", "values"} - entry.keys():
            raise InvalidFieldError("a metric must be an object with key, exp and values")
        keys.append(_schema.key_from_json(entry["key"]))
        exps.append(entry["exp"])
        values = _numbers(entry["values"], "values", (int, float))
        if len(values) != len(stamps):
            raise InvalidFieldError("a metric's values and timestamps_us differ in length")
        # Bound before float conversion: a 4000-digit integer must not reach numpy.
        if not all(abs(x) <= _MAX_JSON_VALUE for x in values):
            raise LimitExceededError("a JSON value exceeds 2**53 quanta at exponent 9")
        rows.append(values)
    for exponent in exps:
        if type(exponent) is not int or not -9 <= exponent <= 9:
            raise InvalidFieldError(f"exponent {exponent!r} is not an integer in -9..9")
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(keys), len(stamps))
    return {
        "timestamps_us": np.asarray(stamps, dtype=np.int64),
        "keys": tuple(keys),
        "exponents": tuple(exps),
        "quantized": quantize(matrix, exps),
    }


def telemetry_json(batch: TelemetryBatch) -> dict[str, Any]:
    return {
        "timestamps_us": batch.timestamps_us.tolist(),
        "metrics": [
            {"key": str(key), "exp": exp, "values": row}
            for key, exp, row in zip(
                batch.keys, batch.exponents, batch.values.tolist(), strict=True
            )
        ],
    }
