"""Simulated hourly rollups and events of a fleet, as the ingest would write them.

For the demo, the benchmarks and the tests: each robot has a riskiness r in [0, 1] that raises
its temperatures, vibration, stops, collisions and faults, so that what it reports moves its
premium. Vectorized over robots and hours.

Counters (operating hours, collisions, stops) run on across batches: a batch that continues an
earlier one (``after``) starts each counter where the earlier batch left it, so the counter
increase over both batches is exactly the increase within the hours reported. A counter that
jumped between batches would read as hours operated without telemetry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from risk_engine.kernels._types import FloatArray

SIMULATED_METRICS = (
    "operating_hours_h",
    "joint_temperature_c.1",
    "joint_temperature_c.2",
    "motor_temperature_c.1",
    "vibration_rms_m_s2.1",
    "battery_soh_pct",
    "collision_count",
    "protective_stop_count",
    "emergency_stop_count",
    "controller_cpu_pct",
)
COUNTER_METRICS = (
    "operating_hours_h",
    "collision_count",
    "protective_stop_count",
    "emergency_stop_count",
)
SAMPLES_PER_HOUR = 360
EVENT_RATES = {"collision": 0.002, "protective_stop": 0.05, "emergency_stop": 0.005}
FAULT_RATE = 0.02
FAULT_SEVERITY_SHARES = (0.4, 0.3, 0.2, 0.1)  # info, warning, error, critical


# Counter metric -> the event kind it counts.
_COUNTED = {
    "collision_count": "collision",
    "protective_stop_count": "protective_stop",
    "emergency_stop_count": "emergency_stop",
}
Hourly = tuple[FloatArray, FloatArray, FloatArray, FloatArray]


@dataclass(frozen=True)
class FleetHours:
    """Hourly values (n, H) per metric key: (mean, minimum, maximum, last value)."""

    robots: int
    buckets: FloatArray  # (H,) epoch s
    series: dict[str, Hourly]
    increments: dict[str, FloatArray]  # event kind -> (n, H) counts

    def counter_ends(self) -> dict[str, FloatArray]:
        """Each counter's value (n,) at the end of the last hour."""
        return {metric: self.series[metric][3][:, -1].copy() for metric in COUNTER_METRICS}


def _counter(start: FloatArray, steps: FloatArray) -> Hourly:
    end = start[:, None] + np.cumsum(steps, axis=1)
    begin = end - steps
    return (begin + end) / 2, begin, end, end


def _gauge(mean: FloatArray, spread: FloatArray, shape: tuple[int, int]) -> Hourly:
    mean, spread = np.broadcast_to(mean, shape), np.broadcast_to(spread, shape)
    return mean, mean - spread, mean + spread, mean


def simulate_hours(
    riskiness: FloatArray,
    buckets: FloatArray,
    *,
    seed: int = 0,
    utilisation: float = 0.7,
    after: FleetHours | None = None,
) -> FleetHours:
    """Hours ``buckets`` (H,) of robots with ``riskiness`` (n,) in [0, 1]; with ``after``, the
    hours that follow that batch (same robots): the counters continue from its last values."""
    rng = np.random.default_rng(seed)
    n, hours = riskiness.size, buckets.size
    r = riskiness[:, None]
    h = np.arange(hours, dtype=np.float64)[None, :]
    shape = (n, hours)
    use = np.clip(utilisation + rng.normal(0, 0.05, shape), 0.0, 1.0)
    increments = {
        kind: rng.poisson(rate * (1 + 10 * r) * use).astype(np.float64)
        for kind, rate in EVENT_RATES.items()
    }
    increments["fault"] = rng.poisson(FAULT_RATE * (1 + 5 * r) * use).astype(np.float64)
    joint = 55 + 20 * r + rng.normal(0, 1.5, shape)
    series = {
        "operating_hours_h": _counter(rng.uniform(100, 20_000, n), use),
        "joint_temperature_c.1": _gauge(joint, 4 + 10 * r, shape),
        "joint_temperature_c.2": _gauge(joint - 3, 4 + 8 * r, shape),
        "motor_temperature_c.1": _gauge(70 + 30 * r + rng.normal(0, 2, shape), 5 + 10 * r, shape),
        "vibration_rms_m_s2.1": _gauge(
            1.5 + 3 * r + VIBRATION_DRIFT_PER_H * r * h, np.array(0.2), shape
        ),
        "battery_soh_pct": _gauge(95 - 0.002 * (1 + 5 * r) * h, np.array(0.1), shape),
        "controller_cpu_pct": _gauge(30 + rng.normal(0, 3, shape), np.array(10.0), shape),
    }
    for metric, kind in _COUNTED.items():
        series[metric] = _counter(rng.integers(0, 50, n).astype(np.float64), increments[kind])
    if after is not None:
        if after.robots != n or after.buckets[-1] >= buckets[0]:
            raise ValueError("a continued batch has the same robots and starts after the last")
        for metric, end in after.counter_ends().items():
            steps = use if metric == "operating_hours_h" else increments[_COUNTED[metric]]
            series[metric] = _counter(end, steps)
    return FleetHours(n, buckets, series, increments)


def rollup_frame(
    fleet: FleetHours, robot_ids: pl.Series, metric_ids: Mapping[str, int]
) -> pl.DataFrame:
    """telemetry_hourly rows (robot_id, metric_id, bucket epoch s, samples, total, total_sq,
    minimum, maximum, last_time epoch s, last_value) of the metrics in ``metric_ids``."""
    parts = []
    hours = fleet.buckets.size
    for key, (mean, low, high, last) in fleet.series.items():
        if key not in metric_ids:
            continue
        total = mean * SAMPLES_PER_HOUR
        parts.append(
            pl.DataFrame(
                {
                    "robot_id": robot_ids.gather(np.repeat(np.arange(fleet.robots), hours)),
                    "metric_id": np.full(fleet.robots * hours, metric_ids[key], dtype=np.int32),
                    "bucket": np.tile(fleet.buckets, fleet.robots),
                    "samples": np.full(fleet.robots * hours, float(SAMPLES_PER_HOUR)),
                    "total": total.ravel(),
                    "total_sq": (total * mean).ravel(),
                    "minimum": low.ravel(),
                    "maximum": high.ravel(),
                    "last_time": np.tile(fleet.buckets + 3599.0, fleet.robots),
                    "last_value": last.ravel(),
                }
            )
        )
    return pl.concat(parts)


def event_frame(fleet: FleetHours, robot_ids: pl.Series, seed: int = 0) -> pl.DataFrame:
    """robot_events rows (robot_id, time epoch s, kind, severity) for the simulated increments;
    faults get severities 0-3 with falling probability."""
    rng = np.random.default_rng(seed)
    frames = []
    for kind, counts in fleet.increments.items():
        robot, hour = np.nonzero(counts)
        repeat = counts[robot, hour].astype(np.int64)
        robot, hour = np.repeat(robot, repeat), np.repeat(hour, repeat)
        severity = (
            rng.choice(4, size=robot.size, p=FAULT_SEVERITY_SHARES)
            if kind == "fault"
            else np.full(robot.size, 2 if kind != "protective_stop" else 1)
        )
        frames.append(
            pl.DataFrame(
                {
                    "robot_id": robot_ids.gather(robot),
                    "time": fleet.buckets[hour] + rng.uniform(0, 3599, robot.size),
                    "kind": np.full(robot.size, kind),
                    "severity": severity.astype(np.int16),
                }
            )
        )
    return pl.concat(frames)


def _share_above(mean: float, sd: float, limit: float) -> float:
    return 0.5 * math.erfc((limit - mean) / (sd * math.sqrt(2.0)))


VIBRATION_DRIFT_PER_H = 0.01
"""How fast a robot's vibration rises within a simulated batch, per hour and unit of riskiness."""


def expected_features(riskiness: float, hours: float = 1.0) -> dict[str, float]:
    """The rating features a robot of ``riskiness`` reports on average over a batch of
    ``hours`` hours (rates per 1,000 operating hours, trends per 1,000 h): what the simulator's
    hazards imply. The vibration level is the mean over the batch: it drifts upwards within a
    batch (``simulate_hours``), so a month's level is higher than a day's."""
    r = riskiness
    events = {kind: 1000.0 * rate * (1 + 10 * r) for kind, rate in EVENT_RATES.items()}
    channels = (  # mean hourly maximum, its spread and the limit of each temperature channel
        (59 + 30 * r, 1.5, 80.0),
        (56 + 28 * r, 1.5, 80.0),
        (75 + 40 * r, 2.0, 110.0),
    )
    return {
        "collision_rate": events["collision"],
        "protective_stop_rate": events["protective_stop"],
        "emergency_stop_rate": events["emergency_stop"],
        "thermal_stress": sum(_share_above(*c) for c in channels) / len(channels),
        "fault_rate_critical": 1000.0 * FAULT_RATE * FAULT_SEVERITY_SHARES[3] * (1 + 5 * r),
        "battery_soh_trend": -2.0 * (1 + 5 * r),
        "maintenance_overdue_days": 0.0,
        "missing_data_share": 0.0,
        "data_gap_count": 0.0,
        "tamper_flag": 0.0,
        "vibration_level": 1.5 + 3 * r + VIBRATION_DRIFT_PER_H * r * (hours - 1) / 2,
    }
