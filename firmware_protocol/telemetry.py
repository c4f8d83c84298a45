"""Telemetry as numpy arrays: TelemetryBatch, what `decode` returns, and the numpy decoding of
telemetry bodies (binary column blocks and the JSON debug form).

This is the only protocol module, with columns.py, that imports numpy. The codec imports it on
first use, when a telemetry message is decoded: a robot, which only encodes (TelemetryRows,
blocks.py), never loads it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from firmware_protocol import _rules
from firmware_protocol.catalogue import MetricKey, metric_keys
from firmware_protocol.codec import sample_count
from firmware_protocol.columns import decode_block
from firmware_protocol.errors import ErrorCode, InvalidFieldError, LimitExceededError
from firmware_protocol.limits import (
    MAX_CELLS_PER_BATCH,
    MAX_EXPONENT,
    MAX_METRICS_PER_BATCH,
    MAX_QUANTIZED_MAGNITUDE,
    MAX_SAMPLES_PER_BATCH,
    MAX_TIME_US,
)
from firmware_protocol.messages import (
    MessageKind,
    check_chain,
    check_origin,
)
from firmware_protocol.rows import (
    _MAGNITUDE_ERROR,
    _TIMESTAMPS_ERROR,
    TelemetryRows,
    _check_dimensions,
    _check_metrics,
    _metric_exponents,
)

FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]


def _readonly(array: npt.NDArray[np.generic]) -> None:
    array.flags.writeable = False


@functools.lru_cache(maxsize=1024)
def _powers(exponents: tuple[int, ...]) -> tuple[FloatArray | None, FloatArray]:
    """Per-row multiplier and divisor so that value = q * up / down is q * 10**e, correctly
    rounded (dividing by an exact power of ten, rather than multiplying by an inexact 0.01).
    Memoised (batches of one robot repeat their exponents); the arrays are read-only. `up` is
    None when no exponent is positive, which saves a multiplication on the decode path."""
    exps = np.asarray(exponents, dtype=np.int64)
    up = np.power(10.0, np.maximum(exps, 0)).reshape(-1, 1)
    down = np.power(10.0, np.maximum(-exps, 0)).reshape(-1, 1)
    _readonly(up)
    _readonly(down)
    return (None if not (exps > 0).any() else up), down


@dataclass(frozen=True, eq=False)
class TelemetryBatch:
    """Columnar samples: one monotonic timestamp column and one value row per metric.

    `quantized[m, i]` is metric m at `timestamps_us[i]` in units of 10**exponents[m]; `values`
    is the same as float64. Arrays are read-only. TelemetryRows is the numpy-free twin that
    robots build; both enforce the same invariants and encode to the same bytes.
    """

    KIND: ClassVar[MessageKind] = MessageKind.TELEMETRY

    robot_id: uuid.UUID
    boot_id: uuid.UUID
    seq: int
    prev_digest: bytes
    wall_us: int
    mono_us: int
    timestamps_us: Int64Array
    keys: tuple[MetricKey, ...]
    exponents: tuple[int, ...]
    quantized: Int64Array
    values: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_origin(self.robot_id, self.boot_id, self.wall_us, self.mono_us)
        check_chain(self.seq, self.prev_digest)
        ts, q = self.timestamps_us, self.quantized
        if not isinstance(ts, np.ndarray) or ts.dtype != np.int64 or ts.ndim != 1:
            raise InvalidFieldError("timestamps_us must be a 1-D int64 array")
        if not isinstance(q, np.ndarray) or q.dtype != np.int64 or q.ndim != 2:
            raise InvalidFieldError("quantized must be a 2-D int64 array")
        metrics, samples = q.shape
        _check_dimensions(
            metrics,
            samples,
            consistent=ts.shape == (samples,),
            keys=self.keys,
            exponents=self.exponents,
        )
        if int(ts[0]) < 0 or int(ts[-1]) > MAX_TIME_US or bool((ts[1:] <= ts[:-1]).any()):
            raise InvalidFieldError(_TIMESTAMPS_ERROR)
        if q.size and max(-int(q.min()), int(q.max())) > MAX_QUANTIZED_MAGNITUDE:
            raise LimitExceededError(_MAGNITUDE_ERROR)
        _check_metrics(self.keys, self.exponents)
        up, down = _powers(self.exponents)
        values = (q if up is None else q * up) / down
        for array in (ts, q, values):
            _readonly(array)
        object.__setattr__(self, "values", values)

    @property
    def sample_count(self) -> int:
        return int(self.quantized.size)

    def series(self, key: MetricKey | str) -> FloatArray:
        """The float64 values of one metric (`key` may be text such as ``motor_current_a.2``)."""
        wanted = MetricKey.parse(key) if isinstance(key, str) else key
        try:
            row = self.keys.index(wanted)
        except ValueError:
            raise KeyError(str(wanted)) from None
        row_values: FloatArray = self.values[row]
        return row_values

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TelemetryBatch):
            return NotImplemented
        return (
            (self.robot_id, self.boot_id, self.seq, self.prev_digest, self.wall_us, self.mono_us)
            == (
                other.robot_id,
                other.boot_id,
                other.seq,
                other.prev_digest,
                other.wall_us,
                other.mono_us,
            )
            and self.keys == other.keys
            and self.exponents == other.exponents
            and np.array_equal(self.timestamps_us, other.timestamps_us)
            and np.array_equal(self.quantized, other.quantized)
        )

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_values(
        cls,
        *,
        robot_id: uuid.UUID,
        boot_id: uuid.UUID,
        seq: int,
        prev_digest: bytes,
        wall_us: int,
        mono_us: int,
        timestamps_us: npt.ArrayLike,
        series: Mapping[MetricKey, npt.ArrayLike] | Mapping[str, npt.ArrayLike],
        exponents: Mapping[MetricKey, int] | Mapping[str, int] | None = None,
    ) -> TelemetryBatch:
        """Quantize float readings: q = round-half-even(value / 10**exponent).

        The exponent of a standard metric defaults to the catalogue's; a vendor metric must
        be given one in `exponents`.
        """
        keys, exps = _metric_exponents(series, exponents)
        try:
            ts = np.asarray(timestamps_us, dtype=np.int64).copy()
            rows = np.asarray([np.asarray(s, dtype=np.float64) for s in series.values()])
            rows = rows.reshape(len(keys), ts.shape[0] if ts.ndim == 1 else -1)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidFieldError(f"timestamps or series are not numeric arrays: {exc}") from None
        return cls(
            robot_id=robot_id,
            boot_id=boot_id,
            seq=seq,
            prev_digest=prev_digest,
            wall_us=wall_us,
            mono_us=mono_us,
            timestamps_us=ts,
            keys=keys,
            exponents=exps,
            quantized=quantize(rows, exps),
        )

    @classmethod
    def from_rows(cls, rows: TelemetryRows) -> TelemetryBatch:
        """The arrays of a (valid) TelemetryRows."""
        stamps = np.asarray(rows.timestamps_us, dtype=np.int64)
        quantized = np.asarray(rows.quantized, dtype=np.int64).reshape(
            len(rows.quantized), len(rows.timestamps_us)
        )
        return cls(
            **_chain_of(rows),
            timestamps_us=stamps,
            keys=rows.keys,
            exponents=rows.exponents,
            quantized=quantized,
        )

    def to_rows(self) -> TelemetryRows:
        """The numpy-free twin (plain tuples of ints)."""
        return TelemetryRows(
            **_chain_of(self),
            timestamps_us=tuple(self.timestamps_us.tolist()),
            keys=self.keys,
            exponents=self.exponents,
            quantized=tuple(map(tuple, self.quantized.tolist())),
        )


_CHAIN_NAMES = ("robot_id", "boot_id", "seq", "prev_digest", "wall_us", "mono_us")


def _chain_of(message: TelemetryBatch | TelemetryRows) -> dict[str, Any]:
    """The origin and chain fields both telemetry forms share, to copy one into the other."""
    return {name: getattr(message, name) for name in _CHAIN_NAMES}


def quantize(rows: FloatArray, exponents: Sequence[int]) -> Int64Array:
    """Vectorised quantization of a metrics x samples float array to int64 quanta."""
    up, down = _powers(tuple(exponents))
    with np.errstate(all="ignore"):
        scaled = np.rint(rows * down if up is None else rows * down / up)
    if not bool(np.isfinite(scaled).all()):
        raise InvalidFieldError("readings must be finite (NaN and infinity cannot be sent in v1.0)")
    if scaled.size and float(np.abs(scaled).max()) > MAX_QUANTIZED_MAGNITUDE:
        raise LimitExceededError("a reading exceeds 2**53 quanta at its resolution")
    quantized: Int64Array = scaled.astype(np.int64)
    return quantized


# ---------------------------------------------------------------- decoding telemetry bodies


def binary_columns(fields: dict[str, Any]) -> dict[str, Any]:
    """TelemetryBatch's arguments from a binary body whose fields each passed their own rules:
    the rules that span fields, in the order of docs/protocol.md section 6.1."""
    check_chain(fields["seq"], fields["prev_digest"])
    t_base, (t_codec, t_width, t_data) = fields.pop("t_base"), fields.pop("t_block")
    refs, channels = fields.pop("metric_refs"), fields.pop("channels")
    exps, bases_raw = fields.pop("exponents"), fields.pop("bases")
    v_codec, v_width, v_data = fields.pop("v_block")
    metrics = len(refs)
    if not len(channels) == len(exps) == metrics or len(bases_raw) != 8 * metrics:
        raise InvalidFieldError("metric refs, channels, exponents and bases differ in length")
    samples = sample_count(t_codec, t_width, t_data)
    if metrics * samples > MAX_CELLS_PER_BATCH:
        raise LimitExceededError(f"more than {MAX_CELLS_PER_BATCH} values")
    # Bases are not range-checked: TelemetryBatch refuses any quantized value beyond 2**53,
    # and a base large enough to wrap the int64 sum yields one (|wrapped| > 2**62).
    bases = np.frombuffer(bases_raw, "<i8").reshape(-1, 1)
    ts = np.cumsum(decode_block(t_codec, t_width, t_data, samples), dtype=np.int64) + t_base
    deltas = decode_block(v_codec, v_width, v_data, metrics * samples)
    fields.update(
        timestamps_us=ts,
        keys=metric_keys(refs, channels),
        exponents=tuple(np.frombuffer(exps, np.int8).tolist()),
        quantized=_with_base(bases, deltas, metrics, samples),
    )
    return fields


def _with_base(
    bases: np.ndarray[Any, Any], deltas: np.ndarray[Any, Any], rows: int, samples: int
) -> Any:
    """x = base + cumulative sum of deltas, per row. |deltas| < 2**31 and n <= 4096, so the
    int64 sum cannot overflow for |base| <= 2**53."""
    return np.cumsum(deltas.reshape(rows, samples), axis=1, dtype=np.int64) + bases


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


def json_columns(fields: dict[str, Any]) -> dict[str, Any]:
    """TelemetryBatch's arguments from the JSON debug form's plain lists."""
    stamps = _numbers(fields.pop("timestamps_us"), "timestamps_us", (int,))
    if not all(0 <= t <= MAX_TIME_US for t in stamps):
        raise InvalidFieldError("timestamps_us must lie within 0..2**62")
    metrics = fields.pop("metrics")
    if type(metrics) is not list or len(metrics) > MAX_METRICS_PER_BATCH:
        raise InvalidFieldError(f"metrics must be an array of at most {MAX_METRICS_PER_BATCH}")
    if len(metrics) * len(stamps) > MAX_CELLS_PER_BATCH:
        raise LimitExceededError(f"more than {MAX_CELLS_PER_BATCH} values")
    keys, exps, rows = [], [], []
    for entry in metrics:
        if type(entry) is not dict or {"key", "exp", "values"} - entry.keys():
            raise InvalidFieldError("a metric must be an object with key, exp and values")
        keys.append(_rules.key_from_json(entry["key"]))
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
    fields.update(
        timestamps_us=np.asarray(stamps, dtype=np.int64),
        keys=tuple(keys),
        exponents=tuple(exps),
        quantized=quantize(matrix, exps),
    )
    return fields
