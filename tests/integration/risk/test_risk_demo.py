"""The demo's scoring path: premiums move with what the robots report, and healthy robots are not
charged for withholding data they sent."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Connection

from risk_engine.calibration import SimulatedFleet, true_premium
from risk_engine.demo import _ensure_plan, _register, score_demo_fleet
from risk_engine.plans.default import ROBOT_CLASSES
from risk_engine.settings import WorkerSettings
from risk_engine.simulate_telemetry import simulate_hours
from tests.integration.risk.risk_factories import PERIOD

MISSING_DATA = "missing_data_share"


@pytest.mark.parametrize("hours", [6, 24])
def test_the_demo_fleets_premiums_follow_what_the_robots_report(
    db_connection: Connection, hours: int
) -> None:
    settings = WorkerSettings()
    now = PERIOD + timedelta(days=10)
    ids = _register(db_connection, 6)
    plan = _ensure_plan(db_connection, now)
    first, second = score_demo_fleet(
        db_connection, settings, plan=plan, ids=ids, hours=hours, now=now
    )
    assert second.period_start > first.period_start  # a renewal: capped against the first
    before = first.scores.sort("robot_id")
    after = second.scores.sort("robot_id")
    bad = str(ids[0])
    rows = {r["robot_id"]: r for r in after.iter_rows(named=True)}
    premiums_before = dict(zip(before["robot_id"], before["premium"], strict=True))
    for robot, row in rows.items():
        features = json.loads(row["features"])
        change = row["premium"] / premiums_before[robot]
        if robot != bad:
            # A healthy robot's first premium is its credible technical premium, not held at
            # the cap's floor: the next period moves it by the noise of a few hours of data.
            assert 0.9 < change < 1.1, (robot, change)
        else:
            assert change > 1.2
        assert features[MISSING_DATA] == 0.0
        reasons = json.loads(row["reasons"])
        assert reasons
        assert reasons[0]["factor"] != MISSING_DATA
    # Each robot's first premium is near its true expected loss (the demo's riskiness, 0 to
    # 0.6, through the plan's true hazard), after only a few hours of data: not the class rate,
    # and not the collision-free rate of a robot that has not had time to collide.
    first_rows = {r["robot_id"]: r for r in before.iter_rows(named=True)}
    rows_in_order = [first_rows[str(robot)] for robot in ids]
    fleet = SimulatedFleet(
        np.array([0.6 * i / (len(ids) - 1) for i in range(len(ids))]),
        pl.Series("robot_class", [ROBOT_CLASSES[i % 3] for i in range(len(ids))]),
    )
    truth = true_premium(plan.plan, fleet, hours)
    premiums = np.array([r["premium"] for r in rows_in_order])
    np.testing.assert_array_less(np.abs(np.log(premiums / truth)), 0.25)


def test_a_continued_batch_runs_the_counters_on() -> None:
    riskiness = np.array([0.0, 0.5])
    first = simulate_hours(riskiness, np.arange(5, dtype=np.float64) * 3600.0, seed=1)
    second = simulate_hours(
        riskiness, np.arange(5, 10, dtype=np.float64) * 3600.0, seed=2, after=first
    )
    for metric, end in first.counter_ends().items():
        np.testing.assert_array_equal(second.series[metric][1][:, 0], end)
    with pytest.raises(ValueError, match="starts after"):
        simulate_hours(riskiness, np.arange(5, dtype=np.float64) * 3600.0, seed=2, after=first)
