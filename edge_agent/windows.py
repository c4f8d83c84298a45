"""On-device aggregation into windows, event detection, and batch assembly.

Raw readings arrive at the sample rate; each metric is reduced per window (gauges: mean, or max
or last if configured; counters: last), so a 10 Hz sensor reported in 1 s windows costs a tenth of
the bandwidth. Threshold rules watch the raw readings (a short peak is not averaged away) and emit
an event on each upward crossing and on the return below `threshold - hysteresis`.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from firmware_protocol import Event, EventKind, MetricDeclaration, MetricKey, Severity
from firmware_protocol.catalogue import MetricKind

Statistic = Literal["mean", "max", "last"]
NAN = math.nan
isnan = math.isnan


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    metric: str
    """A metric key or a glob over keys, e.g. ``joint_temperature_c.*``."""
    above: float
    hysteresis: float = 1.0
    severity: Severity = Severity.WARNING


class WindowAggregator:
    """Accumulates readings into the current window; `add` returns a closed window when a reading
    falls past its end. Memory: a few lists of one float per metric, whatever the rate. Plain
    Python: a hundred metrics at 10 Hz is a thousand additions a second, and numpy would cost the
    agent 20 MB of its 40."""

    def __init__(
        self, declarations: tuple[MetricDeclaration, ...], window_us: int, gauge: Statistic
    ) -> None:
        if window_us <= 0:
            raise ValueError("window_us must be positive")
        self.window_us = window_us
        self.keys = tuple(d.key for d in declarations)
        n = len(declarations)
        self._last_rows = [
            gauge == "last" or (d.key.spec is not None and d.key.spec.kind == MetricKind.COUNTER)
            for d in declarations
        ]
        self._max = gauge == "max"
        self._sum = [0.0] * n
        self._count = [0] * n
        self._peak = [-math.inf] * n
        self._last = [NAN] * n
        self._window_start: int | None = None

    def add(self, mono_us: int, values: Sequence[float]) -> tuple[int, list[float]] | None:
        closed = None
        start = mono_us - mono_us % self.window_us
        if self._window_start is not None and start != self._window_start:
            closed = (self._window_start + self.window_us, self._reduce())
        self._window_start = start
        total, count, peak, last = self._sum, self._count, self._peak, self._last
        for i, value in enumerate(values):
            if not isnan(value):
                total[i] += value
                count[i] += 1
                peak[i] = max(peak[i], value)
                last[i] = value
        return closed

    def _reduce(self) -> list[float]:
        result = [
            last if use_last else (NAN if count == 0 else (peak if self._max else total / count))
            for total, count, peak, last, use_last in zip(
                self._sum, self._count, self._peak, self._last, self._last_rows, strict=True
            )
        ]
        n = len(result)
        self._sum, self._count = [0.0] * n, [0] * n
        self._peak, self._last = [-math.inf] * n, [NAN] * n
        return result


class ThresholdDetector:
    def __init__(self, keys: tuple[MetricKey, ...], rules: tuple[ThresholdRule, ...]) -> None:
        self._rows: list[tuple[int, MetricKey, ThresholdRule]] = []
        for rule in rules:
            for row, key in enumerate(keys):
                if fnmatch.fnmatchcase(str(key), rule.metric):
                    self._rows.append((row, key, rule))
        self._active = [False] * len(self._rows)

    def check(self, mono_us: int, values: Sequence[float]) -> list[Event]:
        events = []
        for i, (row, key, rule) in enumerate(self._rows):
            value = values[row]  # NaN compares False both ways: no reading, no change
            active = self._active[i]
            rising = not active and value > rule.above
            if rising or (active and value < rule.above - rule.hysteresis):
                self._active[i] = rising
                events.append(_threshold_event(mono_us, key, rule, float(value), rising))
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
        self._rows: list[list[float]] = []
        self._carry = [NAN] * len(keys)

    def __len__(self) -> int:
        return len(self._times)

    def add(self, t_us: int, window: Sequence[float]) -> None:
        filled = [
            carry if isnan(value) else value
            for value, carry in zip(window, self._carry, strict=True)
        ]
        self._carry = filled
        self._times.append(t_us)
        self._rows.append(filled)

    def take(
        self, selected: frozenset[MetricKey] | None
    ) -> tuple[list[int], dict[MetricKey, list[float]]]:
        if not self._times:
            return [], {}
        times, rows = self._times, self._rows
        self._times, self._rows = [], []
        series = {}
        for index, key in enumerate(self.keys):
            if selected is not None and key not in selected:
                continue
            column = [row[index] for row in rows]
            if not any(map(isnan, column)):
                series[key] = column
        return times, series
