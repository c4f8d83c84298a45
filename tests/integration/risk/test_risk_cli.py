"""`robocover risk ...` in process, on a database of the test's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text
from typer.testing import CliRunner

from cloud_api.cli import app
from database.settings import CloudSettings


@pytest.fixture
def environment(fresh_database: CloudSettings) -> dict[str, str]:
    return {"ROBOCOVER_DATABASE_URL": fresh_database.libpq_url, "ROBOCOVER_LOG_FORMAT": "json"}


def test_fit_on_mass_insurance_writes_a_draft_plan(tmp_path: Path) -> None:
    output = tmp_path / "plan.json"
    result = CliRunner().invoke(
        app,
        [
            "risk",
            "fit",
            "--rdataset",
            "MASS/Insurance",
            "--claims",
            "Claims",
            "--exposure",
            "Holders",
            "--factor",
            "Group",
            "--factor",
            "Age",
            "--base",
            "District",
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "holdout_gini" in result.output
    plan = json.loads(output.read_text())
    assert len(plan["base_rates"]) == 4
    assert {f["name"] for f in plan["factors"]} == {"group_freq", "age_freq"}


def test_plans_fit_approve_score_and_demo(environment: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["risk", *args], env=environment)
        assert result.exit_code == 0, result.output
        return result.output

    nothing = runner.invoke(app, ["risk", "score"], env=environment)
    assert nothing.exit_code == 1
    assert "no approved rating plan" in nothing.output
    assert "stored draft plan version 1" in run("plan", "starter", "--created-by", "analyst")
    assert "plan 1 approved by chief" in run("plan", "approve", "1", "--approved-by", "chief")
    refused = runner.invoke(
        app, ["risk", "plan", "approve", "1", "--approved-by", "x"], env=environment
    )
    assert refused.exit_code == 1
    fitted = run("fit", "--simulated", "2000", "--save", "--output", str(tmp_path / "p.json"))
    assert "stored draft plan version 2" in fitted
    assert "version 3" in run("plan", "load", str(tmp_path / "p.json"), "--created-by", "a")
    listing = run("plan", "list")
    assert "1\tapproved" in listing
    assert "2\tdraft" in listing
    demo = run("demo", "--robots", "4", "--hours", "3")
    assert "starts to run hot" in demo
    summary = run("score")
    assert "Scored 4 robots under plan version 1" in summary
    engine = create_engine(
        CloudSettings(database_url=environment["ROBOCOVER_DATABASE_URL"]).sqlalchemy_url,
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        triggers = conn.execute(text("SELECT trigger, count(*) FROM risk_scores GROUP BY 1")).all()
    engine.dispose()
    assert dict(triggers) == {"on_demand": 12}
