"""The claims credibility k fitted from a book of robot-periods (risk_engine/fitting/experience.py):
recovered from a book drawn with a known gamma riskiness, and the default kept, with its reason,
where the book cannot say."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from risk_engine.fitting.draft import FitRequest, fit_plan
from risk_engine.fitting.experience import DEFAULT_K, FALLBACK_REASONS, claims_credibility
from risk_engine.fitting.priors import K_CAP
from risk_engine.plans.structure import FactorSpec

SHAPES = {"cobot": 2.0, "industrial_arm": 6.0}


def gamma_book(robots: int, periods: int, seed: int = 5) -> pl.DataFrame:
    """Robot-months of two classes: each robot's claims are Poisson around its class rate times
    its own riskiness, drawn from a gamma of mean 1 and the class's shape (so k = the shape)."""
    rng = np.random.default_rng(seed)
    robot_class = np.where(np.arange(robots) % 2 == 0, "cobot", "industrial_arm")
    shape = np.array([SHAPES[c] for c in robot_class])
    riskiness = rng.gamma(shape, 1.0 / shape)
    rate = np.where(robot_class == "cobot", 0.4, 0.8)  # claims per 1,000 h
    hours = rng.uniform(400.0, 700.0, (robots, periods))
    claims = rng.poisson(rate[:, None] * riskiness[:, None] * hours / 1000.0)
    return pl.DataFrame(
        {
            "robot_id": np.repeat([f"r{i}" for i in range(robots)], periods),
            "robot_class": np.repeat(robot_class, periods),
            "period": np.tile(np.arange(periods), robots),
            "exposure_h": hours.ravel(),
            "claim_count": claims.ravel().astype(np.float64),
        }
    )


def fit(book: pl.DataFrame, *, risk: str | None = "robot_id") -> dict[str, float]:
    request = FitRequest(
        claims="claim_count",
        exposure="exposure_h",
        factors=(
            FactorSpec(
                name="period_freq",
                variable="period",
                target="frequency",
                kind="continuous",
                reason="later periods rate differently",
            ),
        ),
        base_variable="robot_class",
        risk=risk,
    )
    result = fit_plan(book, request, effective_from=datetime(2026, 12, 1, tzinfo=UTC))
    assert (
        result.plan.credibility.k == {e.robot_class: e.k for e in result.credibility}
        or risk is None
    )
    return result.plan.fit_report | {f"plan.{c}": result.plan.credibility.k_of(c) for c in SHAPES}


def test_k_per_class_is_recovered_from_a_gamma_book() -> None:
    report = fit(gamma_book(4000, 24))
    for robot_class, shape in SHAPES.items():
        assert report[f"credibility.k.{robot_class}"] == pytest.approx(shape, rel=0.25)
        assert report[f"plan.{robot_class}"] == report[f"credibility.k.{robot_class}"]
        assert report[f"credibility.{robot_class}.fallback"] == 0.0
        assert report[f"credibility.{robot_class}.robots"] == 2000.0
        assert report[f"credibility.{robot_class}.periods"] == 48000.0
    # the riskier the robots differ (smaller shape), the less expected claims k: the order holds
    assert report["credibility.k.cobot"] < report["credibility.k.industrial_arm"]


def test_one_period_per_robot_keeps_the_default_and_says_why() -> None:
    report = fit(gamma_book(400, 1))
    for robot_class in SHAPES:
        assert report[f"credibility.k.{robot_class}"] == DEFAULT_K
        assert FALLBACK_REASONS[report[f"credibility.{robot_class}.fallback"]].startswith(
            "fewer than two robots"
        )
        assert report[f"credibility.{robot_class}.robots"] == 0.0


def test_without_a_risk_column_the_plan_keeps_the_default() -> None:
    report = fit(gamma_book(200, 6), risk=None)
    assert not any(key.startswith("credibility.") for key in report)
    assert report["plan.cobot"] == DEFAULT_K


def test_robots_that_do_not_differ_get_the_cap() -> None:
    """Every robot with the same riskiness: what k measures (variation between robots beyond
    the Poisson noise) is not there, and the estimate runs off to infinity; the cap is kept."""
    rng = np.random.default_rng(3)
    robots, periods = 3000, 12
    hours = np.full((robots, periods), 500.0)
    book = pl.DataFrame(
        {
            "robot_id": np.repeat(np.arange(robots), periods),
            "robot_class": "cobot",
            "claim_count": rng.poisson(0.5, robots * periods).astype(np.float64),
        }
    )
    expected = (hours * 0.001).ravel()
    credibility, estimates = claims_credibility(
        book, expected, risk="robot_id", claims="claim_count", base_variable="robot_class"
    )
    assert credibility.k == {"cobot": K_CAP}
    assert estimates[0].fallback == 0.0


def test_a_class_without_expected_claims_keeps_the_default() -> None:
    book = pl.DataFrame(
        {"robot_id": ["a", "a", "b", "b"], "robot_class": "cobot", "claim_count": [0.0] * 4}
    )
    credibility, estimates = claims_credibility(
        book, np.zeros(4), risk="robot_id", claims="claim_count", base_variable=None
    )
    assert credibility.default_k == DEFAULT_K
    assert estimates[0].fallback == 2.0
