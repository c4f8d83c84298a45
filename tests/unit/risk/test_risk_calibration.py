"""Calibration on simulated fleets with known hazards (issue 15's must-show).

The starter plan's priors were fitted on one book (riskiness uniform on 0..1, seed 3); each
fleet here is another draw: the first with riskiness uniform (another seed), the second with
another distribution altogether (most robots careful, a tail of bad ones). For windows of 8 h
to 30 days of telemetry, as new business: the engine's technical premium against each robot's
true expected loss.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from risk_engine import calibration
from risk_engine.calibration import (
    WINDOWS_H,
    SimulatedFleet,
    calibration_rows,
    decile_rows,
    measure,
    skewed_riskiness,
    uniform_riskiness,
)
from risk_engine.plans.default import starter_plan
from risk_engine.plans.schema import RatingPlan

ROBOTS = 3000
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FLEETS = {
    "uniform riskiness, another seed": (uniform_riskiness, 11),
    "skewed riskiness (Beta(1.5, 4))": (skewed_riskiness, 12),
}


@pytest.fixture(scope="module")
def truth() -> RatingPlan:
    return starter_plan(NOW, with_priors=False)


@pytest.mark.parametrize("fleet_name", list(FLEETS))
def test_technical_premiums_are_calibrated_from_the_first_hours(
    truth: RatingPlan, fleet_name: str
) -> None:
    riskiness, seed = FLEETS[fleet_name]
    fleet = SimulatedFleet.draw(ROBOTS, seed=seed, riskiness=riskiness)
    plan = starter_plan(NOW)
    results = measure(plan, truth, fleet, seed=seed)
    table = calibration_rows(results)
    assert table.get_column("hours").to_list() == list(WINDOWS_H)
    for row in table.iter_rows(named=True):
        assert abs(row["mean_log_error"]) < 0.15, row
        assert 0.9 <= row["total_ratio"] <= 1.1, row
        assert row["mean_squared_log_error"] < row["class_rate_mean_squared_log_error"], row
    # Today's method (no rate priors; hours toward the reference year) on the same 30 days:
    # the credible premiums rank the robots at least as well.
    today = measure(truth, truth, fleet, windows=[720], seed=seed)
    assert table.row(-1, named=True)["gini"] >= calibration_rows(today).item(0, "gini") - 1e-3
    # By decile of the predicted premium, actual over expected stays near 1 throughout.
    deciles = decile_rows(results[0])
    np.testing.assert_allclose(deciles.get_column("actual_over_expected"), 1.0, atol=0.15)


def test_todays_method_was_biased_low_on_little_data(truth: RatingPlan) -> None:
    """The measurement can fail: without the priors the first week is far too cheap."""
    fleet = SimulatedFleet.draw(1000, seed=11, riskiness=uniform_riskiness)
    table = calibration_rows(measure(truth, truth, fleet, windows=[8, 168], seed=11))
    assert table.item(0, "mean_log_error") < -2.0
    assert table.item(1, "mean_log_error") < -0.4
    assert table.item(0, "mean_squared_log_error") > table.item(
        0, "class_rate_mean_squared_log_error"
    )


def test_the_truth_follows_the_simulated_vibration_drift(truth: RatingPlan) -> None:
    """A month's vibration is higher than a day's in the simulator: so is the true premium."""
    fleet = SimulatedFleet(np.array([0.0, 0.5, 1.0]), pl.Series("robot_class", ["cobot"] * 3))
    day, month = (calibration.true_premium(truth, fleet, h) for h in (24, 720))
    assert day[0] == pytest.approx(month[0])  # riskiness 0 does not drift
    assert month[2] / day[2] > month[1] / day[1] > 1.0
