"""`robocover risk calibrate` and the calibration in `robocover risk fit --simulated`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
from typer.testing import CliRunner

from risk_engine.cli import app
from risk_engine.simulate import simulate_claims, simulate_features

RUNNER = CliRunner()


def test_calibrate_on_a_simulated_fleet_writes_its_tables_chart_and_figures(
    tmp_path: Path,
) -> None:
    result = RUNNER.invoke(
        app, ["calibrate", "--robots", "300", "--riskiness", "skewed", "--output", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "By window of telemetry" in result.output
    figures = json.loads((tmp_path / "calibration.json").read_text())
    assert [row["hours"] for row in figures["by_window"]] == [8, 24, 72, 168, 720]
    for row in figures["by_window"]:
        assert abs(row["mean_log_error"]) < 0.15
        assert row["mean_squared_log_error"] < row["class_rate_mean_squared_log_error"]
    assert len(figures["by_decile"]) == 10
    svg = (tmp_path / "calibration.svg").read_text()
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg


def test_calibrate_on_a_table_with_claims(tmp_path: Path) -> None:
    table = simulate_claims(simulate_features(3000, seed=4), seed=5)
    path = tmp_path / "book.parquet"
    table.write_parquet(path)
    result = RUNNER.invoke(app, ["calibrate", "--data", str(path), "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "calibration.json").read_text())
    deciles = pl.DataFrame(figures["by_decile"])
    # The claims were drawn from the plan's own hazard: actual over expected near 1 throughout,
    # and the predicted deciles in order.
    assert abs(deciles.get_column("actual_over_expected").mean() - 1.0) < 0.1  # type: ignore[operator]
    assert np.all(np.diff(deciles.get_column("mean_predicted").to_numpy()) > 0)


def test_calibrate_refuses_an_unknown_riskiness() -> None:
    result = RUNNER.invoke(app, ["calibrate", "--riskiness", "reckless"])
    assert result.exit_code != 0
    assert "uniform" in result.output


def test_a_simulated_fit_carries_rate_priors_and_its_calibration(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = RUNNER.invoke(app, ["fit", "--simulated", "600", "--output", str(out)])
    assert result.exit_code == 0, result.output
    plan = json.loads(out.read_text())
    assert {p["feature"] for p in plan["rate_priors"]} >= {"collision_rate", "emergency_stop_rate"}
    assert set(plan["class_utilisation"]) == {"cobot", "industrial_arm", "mobile_robot"}
    assert "calibration.8h.mean_log_error" in plan["fit_report"]
    assert "calibration.720h.gini" in plan["fit_report"]
