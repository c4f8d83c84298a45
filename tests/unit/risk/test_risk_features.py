"""Features: incremental folding equals folding everything at once; the rules of the rates."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from database.models.state import STATE_COLUMNS
from risk_engine.features.rating import rating_features
from risk_engine.features.state import (
    MetricRoles,
    empty_state,
    fold_events,
    fold_rollups,
    merge_states,
)
from risk_engine.simulate_telemetry import (
    SIMULATED_METRICS,
    event_frame,
    rollup_frame,
    simulate_hours,
)

METRIC_IDS = {key: index + 1 for index, key in enumerate(SIMULATED_METRICS)}
ROLES = MetricRoles.from_catalogue((i, key.partition(".")[0]) for key, i in METRIC_IDS.items())
START = 1_772_323_200.0  # 2026-03-01 UTC
ROBOTS = pl.Series(["a", "b", "c"])


def _fleet(hours: int = 30) -> tuple[pl.DataFrame, pl.DataFrame]:
    fleet = simulate_hours(
        np.array([0.0, 0.5, 1.0]), START + 3600.0 * np.arange(hours, dtype=np.float64), seed=4
    )
    return rollup_frame(fleet, ROBOTS, METRIC_IDS), event_frame(fleet, ROBOTS, seed=4)


def _sorted(state: pl.DataFrame) -> pl.DataFrame:
    return state.sort("robot_id").select("robot_id", *STATE_COLUMNS)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=30, max_size=30))
def test_folding_in_any_slices_equals_folding_at_once(slices: list[int]) -> None:
    rollups, events = _fleet()
    whole = merge_states(fold_rollups(rollups, ROLES, START), fold_events(events))
    hour = ((pl.col("bucket") - START) / 3600).cast(pl.Int64)
    parts = [empty_state()]
    for part in range(4):
        chosen = [h for h, s in enumerate(slices) if s == part]
        parts.append(fold_rollups(rollups.filter(hour.is_in(chosen)), ROLES, START))
        event_hour = ((pl.col("time") - START) // 3600).cast(pl.Int64)
        parts.append(fold_events(events.filter(event_hour.is_in(chosen))))
    folded = merge_states(*parts)
    left, right = _sorted(whole), _sorted(folded)
    for column in STATE_COLUMNS:
        np.testing.assert_allclose(
            left.get_column(column).to_numpy(), right.get_column(column).to_numpy(), rtol=1e-9
        )


def _robots(tamper: float = 0.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "robot_id": ["a", "b", "c"],
            "robot_class": ["cobot", "cobot", "mobile_robot"],
            "commissioned_at": [START - 400 * 86400.0] * 3,
            "tamper_flagged": [0.0, tamper, 0.0],
        }
    )


def _features(
    hours: int = 30, gaps: pl.DataFrame | None = None, tamper: float = 0.0
) -> pl.DataFrame:
    rollups, events = _fleet(hours)
    state = merge_states(fold_rollups(rollups, ROLES, START), fold_events(events))
    data_gaps = (
        gaps
        if gaps is not None
        else pl.DataFrame(schema={"robot_id": pl.String, "data_gap_count": pl.Float64})
    )
    return rating_features(
        state, _robots(tamper), data_gaps, period_start=START, as_of=START + hours * 3600.0
    )


def test_features_rise_with_riskiness_and_trends_match_a_least_squares_fit() -> None:
    features = _features()
    collisions = features.get_column("protective_stop_rate").to_list()
    assert collisions[0] < collisions[2]
    thermal = features.get_column("thermal_stress").to_list()
    assert thermal[0] < thermal[2]
    rollups, _ = _fleet()
    soh = rollups.filter(
        (pl.col("robot_id") == "c") & pl.col("metric_id").is_in(ROLES.of("battery_soh_pct"))
    )
    t = (soh.get_column("bucket").to_numpy() - START) / 3600.0
    y = soh.get_column("total").to_numpy() / soh.get_column("samples").to_numpy()
    slope = np.polyfit(t, y, 1)[0] * 1000.0
    assert features.get_column("battery_soh_trend")[2] == pytest.approx(slope, rel=1e-6)
    assert features.get_column("elapsed_h").to_list() == [30.0] * 3


def test_exposure_comes_from_the_operating_hours_counter() -> None:
    features = _features()
    rollups, _ = _fleet()
    counter = rollups.filter(pl.col("metric_id").is_in(ROLES.of("operating_hours_h")))
    per_robot = (
        counter.group_by("robot_id")
        .agg((pl.col("maximum").max() - pl.col("minimum").min()).alias("operated"))
        .sort("robot_id")
    )
    np.testing.assert_allclose(
        features.get_column("exposure_h").to_numpy(), per_robot.get_column("operated").to_numpy()
    )


def test_missing_hours_gaps_and_tampering_count_against_the_robot() -> None:
    rollups, events = _fleet()
    hour = (pl.col("bucket") - START) / 3600
    silent = (hour >= 20) & (hour < 29)
    # Robot a sends nothing for 9 hours; its hours counter shows it worked through them.
    withheld = rollups.filter(~((pl.col("robot_id") == "a") & silent))
    state = merge_states(fold_rollups(withheld, ROLES, START), fold_events(events))
    gaps = pl.DataFrame({"robot_id": ["a"], "data_gap_count": [2.0]})
    features = rating_features(
        state, _robots(1.0), gaps, period_start=START, as_of=START + 30 * 3600.0
    )
    full = _features()
    assert features.get_column("missing_data_share")[0] == pytest.approx(0.3 - 0.01, abs=0.05)
    assert features.get_column("exposure_h")[0] == full.get_column("exposure_h")[0]
    assert full.get_column("missing_data_share")[0] == 0.0
    assert features.get_column("data_gap_count").to_list() == [2.0, 0.0, 0.0]
    assert features.get_column("tamper_flag").to_list() == [0.0, 1.0, 0.0]


def test_events_count_as_the_larger_of_events_and_counters() -> None:
    rollups, _events = _fleet()
    without_events = merge_states(fold_rollups(rollups, ROLES, START))
    robots = _robots()
    empty = pl.DataFrame(schema={"robot_id": pl.String, "data_gap_count": pl.Float64})
    only_counters = rating_features(
        without_events, robots, empty, period_start=START, as_of=START + 30 * 3600.0
    )
    both = _features()
    np.testing.assert_allclose(
        only_counters.get_column("collision_rate").to_numpy(),
        both.get_column("collision_rate").to_numpy(),
    )
    assert both.get_column("fault_rate_critical").sum() >= 0.0


def test_a_robot_without_data_gets_the_features_of_no_data() -> None:
    empty = pl.DataFrame(schema={"robot_id": pl.String, "data_gap_count": pl.Float64})
    features = rating_features(
        empty_state(), _robots(), empty, period_start=START, as_of=START + 3600.0
    )
    assert features.get_column("exposure_h").to_list() == [0.0] * 3
    assert features.get_column("maintenance_overdue_days")[0] == pytest.approx(401 - 180, 0.01)
