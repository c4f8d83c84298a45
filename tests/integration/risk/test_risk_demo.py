"""The demo's scoring path: premiums move with what the robots report, and healthy robots are not
charged for withholding data they sent."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Connection

from risk_engine.demo import _ensure_plan, _register, score_demo_fleet
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
    assert rows[bad]["premium"] > premiums_before[bad]
    for robot, row in rows.items():
        features = json.loads(row["features"])
        if robot != bad:
            assert row["premium"] <= premiums_before[robot] * (1 + 1e-9)
        assert features[MISSING_DATA] == 0.0
        reasons = json.loads(row["reasons"])
        assert reasons
        assert reasons[0]["factor"] != MISSING_DATA
    # Ordinary robots are rated near their class reference, not all held at the cap's ceiling.
    ratio = (before["technical_premium"] / before["reference_premium"]).to_numpy()
    assert np.median(ratio[1:]) < 1.25


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
