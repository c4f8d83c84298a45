"""`robocover risk fit --from-db`: the platform's own book of robot-months (telemetry rollups and
events as the ingest writes them, joined to claim_experience as the claims domain writes it),
and the credibility k estimated from it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Connection, create_engine, pool, text
from typer.testing import CliRunner

from cloud_api.cli import app
from database.settings import CloudSettings
from risk_engine.book import database_book, months
from tests.integration.risk.risk_factories import create_robots, report_hours

FIRST = datetime(2026, 1, 1, tzinfo=UTC)
MONTHS = 4
HOURS = 48  # of telemetry at the start of each month


Book = dict[tuple[uuid.UUID, int], int | float]


def seed_book(
    conn: Connection, robots: int, seed: int = 0
) -> tuple[list[uuid.UUID], dict[tuple[uuid.UUID, int], int], Book]:
    """``robots`` robots of two classes reporting HOURS hours a month for MONTHS months, and
    claims per robot-month drawn around each robot's riskiness; returns (ids, claims and
    incurred by (robot, month index))."""
    rng = np.random.default_rng(seed)
    classes = ["cobot" if i % 2 else "industrial_arm" for i in range(robots)]
    ids = create_robots(conn, classes, commissioned=FIRST - timedelta(days=30))
    riskiness = rng.gamma(1.0, 1.0, robots)
    claims: dict[tuple[uuid.UUID, int], int] = {}
    amounts: dict[tuple[uuid.UUID, int], float] = {}
    for index, (start, end) in enumerate(months(FIRST, datetime(2026, MONTHS + 1, 1, tzinfo=UTC))):
        report_hours(conn, ids, riskiness.tolist(), start, HOURS, seed=seed + index)
        for robot, risk in zip(ids, riskiness, strict=True):
            count = int(rng.poisson(1.5 * risk))
            claims[(robot, index)] = count
            amounts[(robot, index)] = round(float(rng.gamma(2.0 * count + 1e-9, 600.0)), 2)
            if count:
                conn.execute(
                    text(
                        "INSERT INTO claim_experience (robot_id, period_start, coverage,"
                        " period_end, claim_count, incurred, exposure_h)"
                        " VALUES (:r, :s, 'breakdown', :e, :n, :i, 40)"
                    ),
                    {"r": robot, "s": start, "e": end, "n": count, "i": amounts[(robot, index)]},
                )
    return ids, claims, amounts


def test_the_book_holds_a_row_per_robot_month_with_its_claims(db_connection: Connection) -> None:
    ids, claims, amounts = seed_book(db_connection, 6)
    book = database_book(db_connection, FIRST, datetime(2026, 6, 1, tzinfo=UTC)).filter(
        pl.col("robot_id").is_in([str(i) for i in ids])
    )
    assert book.height == 6 * MONTHS
    assert sorted(set(book.get_column("period").to_list())) == [
        start.date() for start, _ in months(FIRST, datetime(2026, 4, 2, tzinfo=UTC))
    ]
    by_key = {(row["robot_id"], row["period"].month - 1): row for row in book.iter_rows(named=True)}
    for (robot, index), count in claims.items():
        row = by_key[(str(robot), index)]
        assert row["claim_count"] == count
        assert row["incurred"] == (amounts[(robot, index)] if count else 0.0)
        # exposure: the operating hours the robot's counter shows over the month's telemetry
        assert 0 < row["exposure_h"] <= HOURS
        assert row["observed_h"] == HOURS
    assert set(book.get_column("robot_class").to_list()) == {"cobot", "industrial_arm"}


def test_a_claim_in_a_month_without_telemetry_is_kept_with_no_exposure(
    db_connection: Connection,
) -> None:
    (robot,) = create_robots(db_connection, ["cobot"], commissioned=FIRST)
    db_connection.execute(
        text(
            "INSERT INTO claim_experience (robot_id, period_start, coverage, period_end,"
            " claim_count, incurred, exposure_h) VALUES (:r, :s, 'liability', :e, 2, 900, 0)"
        ),
        {"r": robot, "s": datetime(2026, 2, 1, tzinfo=UTC), "e": datetime(2026, 3, 1, tzinfo=UTC)},
    )
    book = database_book(db_connection, FIRST, datetime(2026, 6, 1, tzinfo=UTC)).filter(
        pl.col("robot_id") == str(robot)
    )
    assert book.select("claim_count", "incurred", "exposure_h").rows() == [(2.0, 900.0, 0.0)]


def test_fit_from_the_database_estimates_k_per_class(
    fresh_database: CloudSettings, tmp_path: Path
) -> None:
    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        seed_book(conn, 60, seed=4)
    engine.dispose()
    output = tmp_path / "draft.json"
    result = CliRunner().invoke(
        app,
        ["risk", "fit", "--from-db", "--since", "2026-01-01", "--output", str(output)],
        env={"ROBOCOVER_DATABASE_URL": fresh_database.libpq_url},
    )
    assert result.exit_code == 0, result.output
    assert "Claims credibility k" in result.output
    plan = json.loads(output.read_text())
    report = plan["fit_report"]
    assert report["rows"] == 60 * MONTHS
    for robot_class in ("cobot", "industrial_arm"):
        assert report[f"credibility.{robot_class}.fallback"] == 0.0
        assert report[f"credibility.{robot_class}.robots"] == 30.0
        assert report[f"credibility.{robot_class}.periods"] == 30.0 * MONTHS
        assert plan["credibility"]["k"][robot_class] == report[f"credibility.k.{robot_class}"]
        assert 0 < plan["credibility"]["k"][robot_class] <= 20.0
    # the rate priors are fitted on the same telemetry
    assert plan["rate_priors"]
    assert "collision_rate.k.cobot" in report


def test_fit_from_an_empty_database_says_there_is_nothing(fresh_database: CloudSettings) -> None:
    result = CliRunner().invoke(
        app,
        ["risk", "fit", "--from-db"],
        env={"ROBOCOVER_DATABASE_URL": fresh_database.libpq_url},
    )
    assert result.exit_code == 1
    assert "no robot-month" in result.output
