"""Telemetry as plain tuples: TelemetryRows, what a robot builds and encodes (no numpy), and the
quantization it and TelemetryBatch share, bit for bit."""

from __future__ import annotations

import itertools
import math
import operator
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from firmware_protocol.catalogue import MetricKey, check_exponent, default_exponent
from firmware_protocol.errors import InvalidFieldError, LimitExceededError
from firmware_protocol.limits import (
    MAX_CELLS_PER_BATCH,
    MAX_EXPONENT,
    MAX_METRICS_PER_BATCH,
    MAX_QUANTIZED_MAGNITUDE,
    MAX_SAMPLES_PER_BATCH,
    MAX_TIME_US,
    MIN_EXPONENT,
)
from firmware_protocol.messages import MessageKind, check_chain, check_origin

if TYPE_CHECKING:
    from firmware_protocol.telemetry import TelemetryBatch

# ---------------------------------------------------------------- telemetry, numpy-free
#
# Telemetry has two classes of one wire kind. TelemetryRows (here: plain tuples, pure Python)
# is what a robot builds and encodes: it imports no numpy. TelemetryBatch (telemetry.py: numpy
# arrays) is what `decode` returns, for the cloud's vectorised ingest. Both enforce exactly the
# same invariants, with the same errors, in the same order; both encode to the same bytes.

_TIMESTAMPS_ERROR = "timestamps_us must be strictly increasing, within 0..2**54"
_MAGNITUDE_ERROR = "a quantized value exceeds 2**53 in magnitude"
_INT: frozenset[type] = frozenset({int})
_SCALES = tuple(float(10**k) for k in range(MAX_EXPONENT + 1))
"""10.0**k, exact for k <= 22: the same doubles as numpy's np.power(10.0, k)."""


def _check_dimensions(
    metrics: int, samples: int, *, consistent: bool, keys: object, exponents: object
) -> None:
    """Batch shape limits, shared by both telemetry classes. `consistent`: every column has
    `samples` entries (for TelemetryBatch, the timestamps match the quantized array)."""
    if not isinstance(keys, tuple) or not isinstance(exponents, tuple):
        raise InvalidFieldError("keys and exponents must be tuples")
    if not 1 <= samples <= MAX_SAMPLES_PER_BATCH or not consistent:
        raise LimitExceededError(f"a batch holds 1..{MAX_SAMPLES_PER_BATCH} timestamps")
    if metrics > MAX_METRICS_PER_BATCH or metrics * samples > MAX_CELLS_PER_BATCH:
        raise LimitExceededError(
            f"a batch holds at most {MAX_METRICS_PER_BATCH} metrics and "
            f"{MAX_CELLS_PER_BATCH} values"
        )
    if len(keys) != metrics or len(exponents) != metrics:
        raise InvalidFieldError("keys, exponents and quantized rows differ in number")


def _check_metrics(keys: tuple[MetricKey, ...], exponents: tuple[int, ...]) -> None:
    """Key and exponent invariants, shared by both telemetry classes."""
    if not all(type(key) is MetricKey for key in keys):
        raise InvalidFieldError("metric keys must be MetricKey values")
    # Hash plain tuples: the dataclass __hash__ is a Python call per key.
    if len({(key.name, key.channel) for key in keys}) != len(keys):
        raise InvalidFieldError("a metric key appears twice in one batch")
    if exponents and (
        not all(type(e) is int for e in exponents)
        or min(exponents) < MIN_EXPONENT
        or max(exponents) > MAX_EXPONENT
    ):
        raise InvalidFieldError("exponents must be integers in -9..9")


def _metric_exponents(
    series: Mapping[MetricKey, object] | Mapping[str, object],
    exponents: Mapping[MetricKey, int] | Mapping[str, int] | None,
) -> tuple[tuple[MetricKey, ...], tuple[int, ...]]:
    """The keys of `series` (text parsed) and each one's exponent: given, else the catalogue's."""
    keys = tuple(MetricKey.parse(k) if isinstance(k, str) else k for k in series)
    given = {
        (MetricKey.parse(k) if isinstance(k, str) else k): e for k, e in (exponents or {}).items()
    }
    return keys, tuple(_exponent_for(key, given) for key in keys)


def _exponent_for(key: MetricKey, given: Mapping[MetricKey, int]) -> int:
    exponent = given.get(key, default_exponent(key))
    if exponent is None:
        raise InvalidFieldError(f"vendor metric {key} needs an explicit exponent (resolution)")
    return check_exponent(exponent)


def quantize_rows(
    rows: Sequence[Sequence[float]], exponents: Sequence[int]
) -> tuple[tuple[int, ...], ...]:
    """q = round-half-even(value / 10**exponent), bit for bit what telemetry.quantize gives.

    numpy computes ``rint(v * down / up)`` with ``down = 10.0**max(-e, 0)`` and
    ``up = 10.0**max(e, 0)``; the factor that is 1.0 changes nothing, so per row that is
    ``v * 10.0**-e`` (e <= 0) or ``v / 10.0**e`` (e > 0), the same IEEE operations as here.
    The errors and their order are numpy's too: any non-finite reading first, then magnitude.
    """
    scaled = [
        [x / _SCALES[e] for x in row] if e > 0 else [x * _SCALES[-e] for x in row]
        for row, e in zip(rows, exponents, strict=True)
    ]
    if not all(_finite(row) for row in scaled):
        raise InvalidFieldError("readings must be finite (NaN and infinity cannot be sent in v1.0)")
    if any(
        row and (max(row) > MAX_QUANTIZED_MAGNITUDE or min(row) < -MAX_QUANTIZED_MAGNITUDE)
        for row in scaled
    ):
        raise LimitExceededError("a reading exceeds 2**53 quanta at its resolution")
    # float.__round__ is round() without the builtin's dispatch: half-even, to int, like rint.
    return tuple(tuple(map(float.__round__, row)) for row in scaled)


def _finite(values: list[float]) -> bool:
    # One C-level sum instead of a call per value: the sum is finite unless a value is NaN or
    # infinite, or finite values overflowed it (then the slow, exact check decides).
    return math.isfinite(sum(values)) or all(map(math.isfinite, values))


def dequantize_rows(
    quantized: Sequence[Sequence[int]], exponents: Sequence[int]
) -> list[list[float]]:
    """value = q * 10**e as float, bit for bit what TelemetryBatch.values holds: q * 10.0**e
    for e > 0, q / 10.0**-e otherwise (exact quanta |q| <= 2**53, correctly rounded)."""
    return [
        [x * _SCALES[e] for x in row] if e > 0 else [x / _SCALES[-e] for x in row]
        for row, e in zip(quantized, exponents, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class TelemetryRows:
    """Columnar samples as plain tuples: the robot's telemetry message (no numpy).

    The same fields, invariants and wire encoding as TelemetryBatch: `quantized[m][i]` is
    metric m at `timestamps_us[i]` in units of 10**exponents[m]. `decode` returns the numpy
    TelemetryBatch; `to_batch()` gives the same.
    """

    KIND: ClassVar[MessageKind] = MessageKind.TELEMETRY

    robot_id: uuid.UUID
    boot_id: uuid.UUID
    seq: int
    prev_digest: bytes
    wall_us: int
    mono_us: int
    timestamps_us: tuple[int, ...]
    keys: tuple[MetricKey, ...]
    exponents: tuple[int, ...]
    quantized: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        # The order of the checks is TelemetryBatch's, so both raise the same error.
        check_origin(self.robot_id, self.boot_id, self.wall_us, self.mono_us)
        check_chain(self.seq, self.prev_digest)
        ts, q = self.timestamps_us, self.quantized
        if not isinstance(ts, tuple) or not set(map(type, ts)) <= _INT:
            raise InvalidFieldError("timestamps_us must be a tuple of integers")
        if (
            not isinstance(q, tuple)
            or not all(isinstance(row, tuple) for row in q)
            or not set(map(type, itertools.chain.from_iterable(q))) <= _INT
        ):
            raise InvalidFieldError("quantized must be a tuple of tuples of integers")
        samples = len(ts)
        _check_dimensions(
            len(q),
            samples,
            consistent=all(len(row) == samples for row in q),
            keys=self.keys,
            exponents=self.exponents,
        )
        if ts[0] < 0 or ts[-1] > MAX_TIME_US or not all(map(operator.lt, ts, ts[1:])):
            raise InvalidFieldError(_TIMESTAMPS_ERROR)
        if q and (
            max(map(max, q)) > MAX_QUANTIZED_MAGNITUDE
            or min(map(min, q)) < -MAX_QUANTIZED_MAGNITUDE
        ):
            raise LimitExceededError(_MAGNITUDE_ERROR)
        _check_metrics(self.keys, self.exponents)

    @property
    def sample_count(self) -> int:
        return len(self.quantized) * len(self.timestamps_us)

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
        timestamps_us: Sequence[int],
        series: Mapping[MetricKey, Sequence[float]] | Mapping[str, Sequence[float]],
        exponents: Mapping[MetricKey, int] | Mapping[str, int] | None = None,
    ) -> TelemetryRows:
        """Quantize float readings: q = round-half-even(value / 10**exponent), exactly as
        TelemetryBatch.from_values does (see quantize_rows).

        The exponent of a standard metric defaults to the catalogue's; a vendor metric must
        be given one in `exponents`. Timestamps must be integers (anything with __index__).
        """
        keys, exps = _metric_exponents(series, exponents)
        try:
            stamps = tuple(map(operator.index, timestamps_us))
            rows = [list(map(float, values)) for values in series.values()]
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidFieldError(f"timestamps or series are not numeric: {exc}") from None
        if any(len(row) != len(stamps) for row in rows):
            raise InvalidFieldError("a series and timestamps_us differ in length")
        return cls(
            robot_id=robot_id,
            boot_id=boot_id,
            seq=seq,
            prev_digest=prev_digest,
            wall_us=wall_us,
            mono_us=mono_us,
            timestamps_us=stamps,
            keys=keys,
            exponents=exps,
            quantized=quantize_rows(rows, exps),
        )

    def to_batch(self) -> TelemetryBatch:
        """The numpy TelemetryBatch holding the same samples (imports numpy)."""
        # Imported here: numpy (~21 MB) is for callers that want arrays, never for a robot.
        from firmware_protocol.telemetry import TelemetryBatch

        return TelemetryBatch.from_rows(self)
