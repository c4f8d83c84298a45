"""Rescoring on the real database: incremental state, history, plan versions, caps, reasons."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Connection, text

from risk_engine.features.state import MetricRoles, fold_events, fold_rollups, merge_states
from risk_engine.plans.default import starter_plan
from risk_engine.plans.repository import PlanError
from risk_engine.rescore import rescore
from risk_engine.settings import WorkerSettings
from risk_engine.sim_store import write_rollups
from tests.integration.risk.risk_factories import (
    PERIOD,
    approve_starter_plan,
    create_robots,
    report_hours,
)

SETTINGS = WorkerSettings(event_settle_seconds=0.0, rollup_grace_hours=1)


def test_without_an_approved_plan_nothing_is_scored(db_connection: Connection) -> None:
    create_robots(db_connection, ["cobot"])
    with pytest.raises(PlanError, match="no approved rating plan"):
        rescore(db_connection, SETTINGS, trigger="schedule", as_of=PERIOD + timedelta(hours=1))


def test_a_rescore_stores_premiums_with_plan_version_and_reasons(db_connection: Connection) -> None:
    robots = create_robots(db_connection, ["cobot", "industrial_arm", "mobile_robot"])
    version = approve_starter_plan(db_connection)
    report_hours(db_connection, robots, [0.0, 0.5, 1.0], PERIOD, 48)
    result = rescore(
        db_connection, SETTINGS, trigger="schedule", as_of=PERIOD + timedelta(hours=48, minutes=5)
    )
    assert result.plan_version == version
    rows = db_connection.execute(
        text(
            "SELECT s.*, r.robot_class FROM risk_scores s JOIN robots r ON r.id = s.robot_id"
            " ORDER BY s.expected_frequency"
        )
    ).all()
    assert [r.plan_version for r in rows] == [version] * 3
    assert [r.trigger for r in rows] == ["schedule"] * 3
    for row in rows:
        # The decomposition is exact: the contributions add up to log(premium).
        assert sum(row.contributions.values()) == pytest.approx(np.log(row.premium))
        assert len(row.reasons) <= 4
        assert row.features["exposure_h"] > 0
    assert rows[-1].robot_class == "mobile_robot"  # the riskiest robot
    assert rows[-1].reasons[0]["reason"]


def test_a_rescore_after_one_new_hour_reads_only_what_is_new(db_connection: Connection) -> None:
    robots = create_robots(db_connection, ["cobot", "mobile_robot"])
    approve_starter_plan(db_connection)
    first_rollups, first_events = report_hours(db_connection, robots, [0.2, 0.9], PERIOD, 24)
    first = rescore(db_connection, SETTINGS, trigger="schedule", as_of=PERIOD + timedelta(hours=24))
    roles = MetricRoles.from_catalogue(
        (int(r[0]), str(r[1])) for r in db_connection.execute(text("SELECT id, name FROM metrics"))
    )
    # Only the metrics the features use are read (controller_cpu_pct is not).
    wanted = pl.col("metric_id").is_in(roles.wanted)
    assert first.rollup_rows == first_rollups.filter(wanted).height < first_rollups.height
    new_rollups, new_events = report_hours(
        db_connection, robots, [0.2, 0.9], PERIOD + timedelta(hours=24), 1, seed=9
    )
    second = rescore(
        db_connection, SETTINGS, trigger="schedule", as_of=PERIOD + timedelta(hours=25)
    )
    # The grace hour (hour 23) is read again, and the new hour: nothing older.
    assert second.rollup_rows == 2 * new_rollups.filter(wanted).height
    assert second.events == new_events.height
    # The stored state equals folding every row at once (hour 24 still provisional).
    closed = first_rollups.filter(pl.col("bucket") < (PERIOD + timedelta(hours=24)).timestamp())
    start = PERIOD.timestamp()
    expected = merge_states(
        fold_rollups(closed, roles, start), fold_events(pl.concat([first_events, new_events]))
    ).sort("robot_id")
    stored = db_connection.execute(
        text(
            "SELECT robot_id::text, observed_h, collision_events, soh_ty, rollups_through"
            " FROM risk_feature_state ORDER BY robot_id"
        )
    ).all()
    assert [r.observed_h for r in stored] == expected.get_column("observed_h").to_list()
    assert [r.collision_events for r in stored] == expected.get_column("collision_events").to_list()
    np.testing.assert_allclose(
        [r.soh_ty for r in stored], expected.get_column("soh_ty").to_numpy(), rtol=1e-9
    )
    assert {r.rollups_through for r in stored} == {PERIOD + timedelta(hours=24)}
    history = db_connection.execute(text("SELECT count(*) FROM risk_scores")).scalar_one()
    assert history == 4


def test_the_cap_holds_a_renewal_to_its_previous_premium(db_connection: Connection) -> None:
    robots = create_robots(db_connection, ["mobile_robot"])
    approve_starter_plan(db_connection)
    report_hours(db_connection, robots, [0.0], PERIOD, 24)
    first = rescore(db_connection, SETTINGS, trigger="schedule", as_of=PERIOD + timedelta(hours=25))
    next_period = PERIOD.replace(month=4)
    report_hours(db_connection, robots, [1.0], next_period, 48, seed=3)
    second = rescore(
        db_connection, SETTINGS, trigger="schedule", as_of=next_period + timedelta(hours=49)
    )
    before = first.scores.get_column("premium")[0]
    after = second.scores.row(0, named=True)
    assert after["reference_premium"] == pytest.approx(before)
    assert after["technical_premium"] > 1.25 * before
    assert after["premium"] == pytest.approx(1.25 * before)
    reasons = json.loads(after["reasons"])
    assert reasons[0]["log_change"] >= reasons[-1]["log_change"] > 0
    # New business is charged its credible technical premium, uncapped; its reference is the
    # class's premium at the class's utilisation (what the robot would be quoted without data).
    first_row = first.scores.row(0, named=True)
    plan = starter_plan(PERIOD)
    frequency, severity = plan.class_rates("mobile_robot")
    class_hours = 8760 * plan.utilisation_of("mobile_robot")
    assert first_row["premium"] == pytest.approx(first_row["technical_premium"])
    assert first_row["reference_premium"] == pytest.approx(
        frequency * severity * class_hours / 1000 / 0.7 * 1.03
    )


def _closed_state_from_table(conn: Connection, roles: MetricRoles, before: float) -> pl.DataFrame:
    """Every rollup row now in telemetry_hourly before ``before``, folded at once."""
    rows = conn.execute(
        text(
            "SELECT robot_id::text, metric_id, extract(epoch FROM bucket)::float8, samples::float8,"
            " total, minimum, maximum FROM telemetry_hourly WHERE extract(epoch FROM bucket) < :b"
        ),
        {"b": before},
    ).all()
    frame = pl.DataFrame(
        rows,
        schema=["robot_id", "metric_id", "bucket", "samples", "total", "minimum", "maximum"],
        orient="row",
    ).filter(pl.col("metric_id").is_in(roles.wanted))
    return fold_rollups(frame, roles, PERIOD.timestamp()).sort("robot_id")


ROLLUP_CHECKS = ("observed_h", "temperature_channel_h", "thermal_channel_h", "soh_n", "soh_ty")


def _stored_rollup_state(conn: Connection) -> list[Any]:
    return list(
        conn.execute(
            text(
                f"SELECT robot_id::text, {', '.join(ROLLUP_CHECKS)}"  # noqa: S608 (constants)
                " FROM risk_feature_state ORDER BY robot_id"
            )
        ).all()
    )


def test_an_hour_updated_late_is_counted_once_with_its_final_values(
    db_connection: Connection,
) -> None:
    robots = create_robots(db_connection, ["cobot", "mobile_robot"])
    approve_starter_plan(db_connection)
    rollups, _ = report_hours(db_connection, robots, [0.2, 0.9], PERIOD, 24)
    roles = MetricRoles.from_catalogue(
        (int(r[0]), str(r[1])) for r in db_connection.execute(text("SELECT id, name FROM metrics"))
    )
    hour_5, hour_6 = (PERIOD + timedelta(hours=h) for h in (5, 6))
    temperature = roles.of("joint_temperature_c")[0]
    # One row of hour 6 is missing at the first rescore: it will arrive late, as a new row.
    db_connection.execute(
        text("DELETE FROM telemetry_hourly WHERE robot_id = :r AND bucket = :h AND metric_id = :m"),
        {"r": robots[0], "h": hour_6, "m": temperature},
    )
    # The test is one transaction, so now() stands still: date what is stored so far back.
    db_connection.execute(text("UPDATE telemetry_hourly SET updated_at = now() - interval '2 h'"))
    as_of = PERIOD + timedelta(hours=25)  # hours 0 to 23 are closed and folded
    initial = rescore(db_connection, SETTINGS, trigger="schedule", as_of=as_of)
    before = _stored_rollup_state(db_connection)
    db_connection.execute(
        text("UPDATE risk_feature_state SET rollups_updated_through = now() - interval '1 h'")
    )
    # Hours 5 and 6 of the first robot, folded an hour ago, change: a late batch for hour 5 runs
    # hot (merged into the stored rows) and the missing row of hour 6 arrives.
    robot = pl.col("robot_id") == str(robots[0])
    late_5 = rollups.filter(robot & (pl.col("bucket") == hour_5.timestamp())).with_columns(
        pl.col("maximum") + 100.0
    )
    late_6 = rollups.filter(
        robot & (pl.col("bucket") == hour_6.timestamp()) & (pl.col("metric_id") == temperature)
    )
    write_rollups(db_connection, pl.concat([late_5, late_6]))
    second = rescore(db_connection, SETTINGS, trigger="schedule", as_of=as_of)
    after = _stored_rollup_state(db_connection)
    expected = _closed_state_from_table(
        db_connection, roles, (PERIOD + timedelta(hours=24)).timestamp()
    )
    assert [r.robot_id for r in after] == expected.get_column("robot_id").to_list()
    for i, name in enumerate(ROLLUP_CHECKS, start=1):
        np.testing.assert_allclose(
            [r[i] for r in after], expected.get_column(name).to_numpy(), rtol=1e-9, err_msg=name
        )
    # Each hour once (no double count of hours 5 and 6), the late values in, the other robot
    # untouched; the first robot's period was read again.
    assert [r.observed_h for r in after] == [24.0, 24.0]
    first = [r.robot_id for r in after].index(str(robots[0]))
    assert after[first].thermal_channel_h > before[first].thermal_channel_h
    assert after[first].temperature_channel_h == before[first].temperature_channel_h + 1
    assert after[1 - first].thermal_channel_h == before[1 - first].thermal_channel_h
    assert second.rollup_rows > initial.rollup_rows // 2 > 0
    # Nothing changed since: the next rescore reads only the grace hour, and the state stays.
    third = rescore(db_connection, SETTINGS, trigger="schedule", as_of=as_of)
    assert third.rollup_rows < second.rollup_rows // 4
    assert _stored_rollup_state(db_connection) == after
