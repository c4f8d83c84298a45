"""On-device aggregation into windows, event detection, and batch assembly.

Raw readings arrive at the sample rate; each metric is reduced per window (gauges: mean, or max
or last if configured; counters: last), so a 10 Hz sensor reported in 1 s windows costs a tenth of
the bandwidth. Threshold rules watch the raw readings (a short peak is not averaged away) and emit
an event on each upward crossing and on the return below `threshold - hysteresis`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from firmware_protocol import Event, EventKind, MetricDeclaration, MetricKey, Severity
from firmware_protocol.catalogue import MetricKind

Statistic = Literal["mean", "max", "last"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    metric: str
    """A metric key or a glob over keys, e.g. ``joint_temperature_c.*``."""
    above: float
    hysteresis: float = 1.0
    severity: Severity = Severity.WARNING


class WindowAggregator:
    """Accumulates readings into the current window; `add` returns a closed window when a reading
    falls past its end. Memory: a few arrays of one float per metric, whatever the rate."""

    def __init__(
        self, declarations: tuple[MetricDeclaration, ...], window_us: int, gauge: Statistic
    ) -> None:
        if window_us <= 0:
            raise ValueError("window_us must be positive")
        self.window_us = window_us
        self.keys = tuple(d.key for d in declarations)
        n = len(declarations)
        counter = [
            d.key.spec is not None and d.key.spec.kind == MetricKind.COUNTER for d in declarations
        ]
        self._last_rows = np.asarray(counter, dtype=bool) | (gauge == "last")
        self._max = gauge == "max"
        self._sum = np.zeros(n)
        self._count = np.zeros(n)
        self._peak = np.full(n, -np.inf)
        self._last = np.full(n, np.nan)
        self._window_start: int | None = None

    def add(self, mono_us: int, values: FloatArray) -> tuple[int, FloatArray] | None:
        closed = None
        start = mono_us - mono_us % self.window_us
        if self._window_start is not None and start != self._window_start:
            closed = (self._window_start + self.window_us, self._reduce())
        self._window_start = start
        seen = ~np.isnan(values)
        self._sum[seen] += values[seen]
        self._count[seen] += 1
        np.fmax(self._peak, values, out=self._peak)
        self._last[seen] = values[seen]
        return closed

    def _reduce(self) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            result = np.where(self._count > 0, self._sum / self._count, np.nan)
        if self._max:
            result = np.where(self._count > 0, self._peak, np.nan)
        result = np.where(self._last_rows, self._last, result)
        self._sum[:] = 0
        self._count[:] = 0
        self._peak[:] = -np.inf
        self._last[:] = np.nan
        return result


class ThresholdDetector:
    def __init__(self, keys: tuple[MetricKey, ...], rules: tuple[ThresholdRule, ...]) -> None:
        self._rows: list[tuple[int, MetricKey, ThresholdRule]] = []
        for rule in rules:
            for row, key in enumerate(keys):
                if fnmatch.fnmatchcase(str(key), rule.metric):
                    self._rows.append((row, key, rule))
        self._index = np.array([r[0] for r in self._rows], dtype=np.int64)
        self._above = np.array([r[2].above for r in self._rows])
        self._below = self._above - np.array([r[2].hysteresis for r in self._rows])
        self._active = np.zeros(len(self._rows), dtype=bool)

    def check(self, mono_us: int, values: FloatArray) -> list[Event]:
        if not self._rows:
            return []
        watched = values[self._index]
        rising = ~self._active & (watched > self._above)
        falling = self._active & (watched < self._below)
        if not (rising.any() or falling.any()):
            return []
        self._active = (self._active | rising) & ~falling
        events = []
        for i in np.flatnonzero(rising | falling):
            _, key, rule = self._rows[i]
            events.append(_threshold_event(mono_us, key, rule, float(watched[i]), bool(rising[i])))
        return events


def _threshold_event(
    mono_us: int, key: MetricKey, rule: ThresholdRule, value: float, rising: bool
) -> Event:
    temperature = key.spec is not None and key.spec.unit == "degC"
    if temperature and rising:
        return Event(EventKind.OVER_TEMPERATURE, mono_us, rule.severity, key.channel,
                     value=value, threshold=rule.above, metric=key)  # fmt: skip
    kind = EventKind.FAULT if rising else EventKind.FAULT_CLEARED
    return Event(kind, mono_us, rule.severity if rising else Severity.INFO, key.channel,
                 code=f"threshold:{key.name}"[:64], value=value, threshold=rule.above,
                 metric=key)  # fmt: skip


class BatchBuilder:
    """Closed windows waiting for the next telemetry batch. A metric missing from a window keeps
    its last value; one never seen in the batch is left out of it (NaN cannot be sent)."""

    def __init__(self, keys: tuple[MetricKey, ...], exponents: dict[MetricKey, int]) -> None:
        self.keys = keys
        self.exponents = exponents
        self._times: list[int] = []
        self._rows: list[FloatArray] = []
        self._carry = np.full(len(keys), np.nan)

    def __len__(self) -> int:
        return len(self._times)

    def add(self, t_us: int, window: FloatArray) -> None:
        filled = np.where(np.isnan(window), self._carry, window)
        self._carry = filled
        self._times.append(t_us)
        self._rows.append(filled)

    def take(
        self, selected: frozenset[MetricKey] | None
    ) -> tuple[list[int], dict[MetricKey, FloatArray]]:
        if not self._times:
            return [], {}
        matrix = np.vstack(self._rows).T
        times = self._times
        self._times, self._rows = [], []
        series = {}
        for row, key in enumerate(self.keys):
            if selected is not None and key not in selected:
                continue
            column = matrix[row]
            if not np.isnan(column).any():
                series[key] = column
        return times, series
