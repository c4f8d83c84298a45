"""Incremental feature state: per robot and rating period, statistics that merge associatively.

A rescore folds only rows it has not folded before (rollup hours after the state's watermark,
events received after it) into the stored state; ``merge_states`` adds, maxes and mins columns,
so the order in which hours arrive never matters.

Frames: ``rollups`` has robot_id, metric_id (int), bucket (epoch s, hour start), samples, total,
minimum, maximum; ``events`` has robot_id, time (epoch s), kind (str), severity (int 0-3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl

from database.models.state import (
    COUNTERS,
    EVENT_COUNTS,
    FAULT_SEVERITIES,
    STATE_COLUMNS,
    STATE_MAXIMA,
    STATE_MINIMA,
    STATE_SUMS,
    TREND_SUMS,
    TRENDS,
)

# Temperatures above which a channel-hour counts as thermal stress, degC.
TEMPERATURE_LIMITS_C: Mapping[str, float] = {
    "joint_temperature_c": 80.0,
    "motor_temperature_c": 110.0,
    "controller_temperature_c": 75.0,
}
# The statistics that come from rollup rows (fold_rollups); the others come from events.
ROLLUP_STATE_COLUMNS: tuple[str, ...] = (
    "observed_h",
    "observed_operating_h",
    "temperature_channel_h",
    "thermal_channel_h",
    *TREND_SUMS,
    *(f"{c}_max" for c in COUNTERS.values()),
    *(f"{c}_first" for c in COUNTERS.values()),
)


@dataclass(frozen=True)
class MetricRoles:
    """Which metric ids (from the ``metrics`` table) play which part in the features."""

    ids: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_catalogue(cls, metrics: Iterable[tuple[int, str]]) -> MetricRoles:
        """From (metric id, metric name) pairs; channels of one name share its role."""
        ids: dict[str, list[int]] = {}
        for metric_id, name in metrics:
            ids.setdefault(name, []).append(metric_id)
        return cls(ids)

    def of(self, name: str) -> list[int]:
        return self.ids.get(name, [])

    @property
    def wanted(self) -> list[int]:
        names = [*TEMPERATURE_LIMITS_C, *COUNTERS, *TRENDS]
        return sorted(i for name in names for i in self.of(name))


def _is(roles: MetricRoles, name: str) -> pl.Expr:
    return pl.col("metric_id").is_in(roles.of(name))


def _thermal(roles: MetricRoles) -> tuple[pl.Expr, pl.Expr]:
    is_temperature = pl.lit(value=False)
    is_hot = pl.lit(value=False)
    for name, limit in TEMPERATURE_LIMITS_C.items():
        is_temperature = is_temperature | _is(roles, name)
        is_hot = is_hot | (_is(roles, name) & (pl.col("maximum") > limit))
    return is_temperature, is_hot


def _trend_sums(roles: MetricRoles, metric: str, prefix: str, period_start: float) -> list[pl.Expr]:
    hit = _is(roles, metric)
    t = (pl.col("bucket") - period_start) / 3600.0
    y = pl.col("total") / pl.col("samples")
    return [
        hit.sum().cast(pl.Float64).alias(f"{prefix}_n"),
        t.filter(hit).sum().alias(f"{prefix}_t"),
        (t * t).filter(hit).sum().alias(f"{prefix}_tt"),
        y.filter(hit).sum().alias(f"{prefix}_y"),
        (t * y).filter(hit).sum().alias(f"{prefix}_ty"),
    ]


def fold_rollups(rollups: pl.DataFrame, roles: MetricRoles, period_start: float) -> pl.DataFrame:
    """Per-robot state of a set of rollup rows (each hour of each metric at most once)."""
    is_temperature, is_hot = _thermal(roles)
    aggregations = [
        pl.col("bucket").n_unique().cast(pl.Float64).alias("observed_h"),
        (pl.col("maximum") - pl.col("minimum"))
        .filter(_is(roles, "operating_hours_h"))
        .sum()
        .alias("observed_operating_h"),
        is_temperature.sum().cast(pl.Float64).alias("temperature_channel_h"),
        is_hot.sum().cast(pl.Float64).alias("thermal_channel_h"),
    ]
    for metric, prefix in TRENDS.items():
        aggregations += _trend_sums(roles, metric, prefix, period_start)
    for metric, prefix in COUNTERS.items():
        hit = _is(roles, metric)
        aggregations.append(pl.col("maximum").filter(hit).max().alias(f"{prefix}_max"))
        aggregations.append(pl.col("minimum").filter(hit).min().alias(f"{prefix}_first"))
    return complete_state(rollups.lazy().group_by("robot_id").agg(aggregations).collect())


def fold_events(events: pl.DataFrame) -> pl.DataFrame:
    """Per-robot state of a set of events (each event at most once)."""
    kind = pl.col("kind")
    aggregations = [
        (kind == event).sum().cast(pl.Float64).alias(column)
        for event, column in EVENT_COUNTS.items()
    ]
    aggregations += [
        ((kind == "fault") & (pl.col("severity") == level))
        .sum()
        .cast(pl.Float64)
        .alias(f"fault_events_{name}")
        for level, name in enumerate(FAULT_SEVERITIES)
    ]
    aggregations += [
        pl.col("time").filter(kind == "maintenance_done").max().alias("last_maintenance_at"),
        pl.col("time").filter(kind == "firmware_change").max().alias("last_firmware_change_at"),
    ]
    return complete_state(events.lazy().group_by("robot_id").agg(aggregations).collect())


def complete_state(frame: pl.DataFrame) -> pl.DataFrame:
    """Every state column, Float64, nulls where a statistic has not been seen."""
    present = set(frame.columns)
    columns = [
        (pl.col(c) if c in present else pl.lit(None)).cast(pl.Float64).alias(c)
        for c in STATE_COLUMNS
    ]
    return frame.select(pl.col("robot_id"), *columns)


def empty_state(robot_id_type: pl.DataType | type[pl.DataType] = pl.String) -> pl.DataFrame:
    """A state frame with no robots."""
    schema: dict[str, pl.DataType | type[pl.DataType]] = {"robot_id": robot_id_type}
    schema.update(dict.fromkeys(STATE_COLUMNS, pl.Float64))
    return pl.DataFrame(schema=schema)


def merge_states(*states: pl.DataFrame) -> pl.DataFrame:
    """One state per robot: sums added, maxima maxed, minima minned; null means not seen."""
    stacked = pl.concat([complete_state(state) for state in states], how="vertical_relaxed")
    return stacked.group_by("robot_id").agg(
        *(pl.col(c).sum() for c in STATE_SUMS),
        *(pl.col(c).max() for c in STATE_MAXIMA),
        *(pl.col(c).min() for c in STATE_MINIMA),
    )
