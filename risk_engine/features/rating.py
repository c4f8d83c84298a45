"""Rating features from a feature state: rates, trends, compliance, completeness.

Gaps and broken hash chains count against a robot, never for it: a counter that moved while no
telemetry came in adds exposure without the hours being observed (lower completeness), counted
events are the larger of the events received and the robot's own counters, and unfilled gaps and
a tamper flag only ever raise the premium (the plan's factors on them are adverse-only).

``robots`` has robot_id, robot_class, commissioned_at (epoch s), tamper_flagged (bool);
``data_gaps`` has robot_id, data_gap_count (unfilled sequence gaps).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from database.models.state import STATE_SUMS
from risk_engine.features.state import complete_state

# Denominator floor of event rates, operating hours: one event in a robot's first hour is not a
# rate of 1,000 per 1,000 hours.
MIN_RATE_EXPOSURE_H = 100.0
MAINTENANCE_INTERVAL_DAYS = 180.0
DAY_S = 86_400.0
MISSING_TOLERANCE = 0.01

FEATURES: Mapping[str, str] = {
    "exposure_h": "operating hours in the period (counter increase, else hours with telemetry)",
    "observed_h": "hours in the period with telemetry",
    "elapsed_h": "calendar hours of the period so far, from commissioning if later",
    "utilisation": "exposure_h / elapsed_h",
    "thermal_stress": "share of temperature channel-hours above the channel's limit",
    "collision_rate": "collisions per 1,000 operating hours",
    "protective_stop_rate": "protective stops per 1,000 operating hours",
    "emergency_stop_rate": "emergency stops per 1,000 operating hours",
    "over_temperature_rate": "over-temperature events per 1,000 operating hours",
    "fault_rate_info": "severity-0 faults per 1,000 operating hours",
    "fault_rate_warning": "severity-1 faults per 1,000 operating hours",
    "fault_rate_error": "severity-2 faults per 1,000 operating hours",
    "fault_rate_critical": "severity-3 faults per 1,000 operating hours",
    "battery_soh_trend": "battery state-of-health slope, % per 1,000 h (negative: wearing)",
    "vibration_trend": "vibration RMS slope, m/s2 per 1,000 h",
    "vibration_level": "mean vibration RMS, m/s2",
    "maintenance_overdue_days": "days past the maintenance interval since the last maintenance",
    "firmware_age_days": "days since the last firmware change (or commissioning)",
    "collision_count": "collisions in the period (the larger of events and counter)",
    "protective_stop_count": "protective stops in the period (events or counter)",
    "emergency_stop_count": "emergency stops in the period (events or counter)",
    "over_temperature_count": "over-temperature events in the period",
    "fault_count_info": "severity-0 faults in the period",
    "fault_count_warning": "severity-1 faults in the period",
    "fault_count_error": "severity-2 faults in the period",
    "fault_count_critical": "severity-3 faults in the period",
    "missing_data_share": "share of operated hours (counter) in hours that sent no telemetry",
    "data_gap_count": "unfilled gaps in the robot's signed chain",
    "tamper_flag": "1 if the robot's hash chain broke",
}


def _counter_increase(prefix: str) -> pl.Expr:
    return (pl.col(f"{prefix}_max") - pl.col(f"{prefix}_first")).clip(lower_bound=0).fill_null(0)


def _slope(prefix: str) -> pl.Expr:
    n, t, tt = pl.col(f"{prefix}_n"), pl.col(f"{prefix}_t"), pl.col(f"{prefix}_tt")
    y, ty = pl.col(f"{prefix}_y"), pl.col(f"{prefix}_ty")
    denominator = n * tt - t * t
    slope = (n * ty - t * y) / denominator * 1000.0
    return pl.when((n >= 2) & (denominator > 1e-9)).then(slope).otherwise(0.0)


def _rate(count: pl.Expr) -> pl.Expr:
    return count * 1000.0 / pl.max_horizontal(pl.col("exposure_h"), pl.lit(MIN_RATE_EXPOSURE_H))


def _larger(events: str, counter: str) -> pl.Expr:
    return pl.max_horizontal(pl.col(events), _counter_increase(counter))


# Count feature -> its expression over the state; each has a rate feature of the same stem.
_COUNTS: Mapping[str, pl.Expr] = {
    "collision_count": _larger("collision_events", "collision_counter"),
    "protective_stop_count": _larger("protective_stop_events", "protective_stop_counter"),
    "emergency_stop_count": _larger("emergency_stop_events", "emergency_stop_counter"),
    "over_temperature_count": pl.col("over_temperature_events"),
    **{
        f"fault_count_{level}": pl.col(f"fault_events_{level}")
        for level in ("info", "warning", "error", "critical")
    },
}
RATE_OF_COUNT: Mapping[str, str] = {count: count.replace("_count", "_rate") for count in _COUNTS}


def _event_rates() -> list[pl.Expr]:
    return [_rate(pl.col(count)).alias(rate) for count, rate in RATE_OF_COUNT.items()]


def rating_features(
    state: pl.DataFrame,
    robots: pl.DataFrame,
    data_gaps: pl.DataFrame,
    *,
    period_start: float,
    as_of: float,
) -> pl.DataFrame:
    """One row per robot of ``robots`` (in its order): robot_id, robot_class and ``FEATURES``.

    period_start, as_of: epoch seconds. Robots without state get the features of no data.
    """
    frame = (
        robots.join(complete_state(state), on="robot_id", how="left", maintain_order="left")
        .join(data_gaps, on="robot_id", how="left", maintain_order="left")
        .with_columns(pl.col(c).fill_null(0.0) for c in STATE_SUMS)
    )
    since = pl.max_horizontal(pl.col("commissioned_at"), pl.lit(period_start))
    operated = _counter_increase("operating_hours")
    frame = frame.with_columns(
        pl.when(pl.col("operating_hours_max").is_not_null())
        .then(operated)
        .otherwise(pl.col("observed_h"))
        .alias("exposure_h"),
        # A robot cannot have reported for more hours than have passed: data from before its
        # recorded commissioning (a robot registered after it started) still counts as time.
        pl.max_horizontal(
            ((pl.lit(as_of) - since) / 3600.0).clip(lower_bound=1.0), pl.col("observed_h")
        ).alias("elapsed_h"),
    )
    frame = frame.with_columns(count.alias(name) for name, count in _COUNTS.items())
    return frame.select(
        "robot_id",
        "robot_class",
        "exposure_h",
        "observed_h",
        "elapsed_h",
        (pl.col("exposure_h") / pl.col("elapsed_h")).alias("utilisation"),
        (pl.col("thermal_channel_h") / pl.col("temperature_channel_h").clip(lower_bound=1.0)).alias(
            "thermal_stress"
        ),
        *_event_rates(),
        *_COUNTS,
        _slope("soh").alias("battery_soh_trend"),
        _slope("vibration").alias("vibration_trend"),
        (pl.col("vibration_y") / pl.col("vibration_n").clip(lower_bound=1.0)).alias(
            "vibration_level"
        ),
        _days_since("last_maintenance_at", as_of)
        .sub(MAINTENANCE_INTERVAL_DAYS)
        .clip(lower_bound=0.0)
        .alias("maintenance_overdue_days"),
        _days_since("last_firmware_change_at", as_of).alias("firmware_age_days"),
        _missing_share().alias("missing_data_share"),
        pl.col("data_gap_count").fill_null(0).cast(pl.Float64),
        pl.col("tamper_flagged").cast(pl.Float64).alias("tamper_flag"),
    )


def _missing_share() -> pl.Expr:
    """Operated hours the counter shows outside every reported hour, as a share; the first
    MISSING_TOLERANCE is the gap between an hour's last sample and the next hour's first."""
    observed = pl.col("observed_operating_h") / pl.col("exposure_h").clip(lower_bound=1e-9)
    share = (1.0 - observed - MISSING_TOLERANCE).clip(0.0, 1.0)
    return pl.when(pl.col("exposure_h") > 0).then(share).otherwise(0.0)


def _days_since(column: str, as_of: float) -> pl.Expr:
    last = pl.coalesce(pl.col(column), pl.col("commissioned_at"))
    return ((pl.lit(as_of) - last) / DAY_S).clip(lower_bound=0.0)
