"""Event rates with credibility: the estimator by hand, and the fit recovering a known book."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from risk_engine.features.credible import credible_features
from risk_engine.fitting.priors import K_CAP, fit_priors
from risk_engine.plans.default import starter_plan
from risk_engine.plans.schema import RatePrior, RatingPlan
from risk_engine.plans.starter_priors import PRIORS_FILE, fit_starter_priors

NOW_FOR_TESTS = datetime(2026, 3, 1, tzinfo=UTC)
PRIOR = RatePrior(
    feature="collision_rate",
    count="collision_count",
    intercept={"cobot": math.log(4.0)},
    covariates={"vibration_trend": 1.0},
    k={"cobot": 2.0},
)


def _plan(*priors: RatePrior) -> RatingPlan:
    return starter_plan(NOW_FOR_TESTS).model_copy(update={"rate_priors": list(priors)})


def _robots(counts: list[float], exposure: list[float], trend: list[float]) -> pl.DataFrame:
    n = len(counts)
    return pl.DataFrame(
        {
            "robot_class": ["cobot"] * n,
            "collision_count": counts,
            "collision_rate": [
                c * 1000 / max(e, 100) for c, e in zip(counts, exposure, strict=True)
            ],
            "exposure_h": exposure,
            "vibration_trend": trend,
        }
    )


def test_the_credible_rate_is_the_gamma_poisson_posterior_mean_worked_by_hand() -> None:
    # mu = 4 * (1 + 1) = 8 per 1,000 h at trend 1; k = 2 expected events.
    # No data: the complement, 8. 500 h and 1 collision: E = 4, Z = 4 / 6,
    # rate = 8 * (1 + 2) / (4 + 2) = 4 = Z * 2 + (1 - Z) * 8.
    rates = credible_features(_plan(PRIOR), _robots([0.0, 1.0], [0.0, 500.0], [1.0, 1.0]))
    assert rates.get_column("collision_rate").to_list() == pytest.approx([8.0, 4.0])


def test_a_robot_that_keeps_colliding_is_charged_for_it_whatever_its_signals() -> None:
    counts = [0.0, 2.0, 5.0, 20.0]
    rates = credible_features(_plan(PRIOR), _robots(counts, [500.0] * 4, [0.0] * 4))
    charged = rates.get_column("collision_rate").to_list()
    assert charged == sorted(charged)
    assert charged[-1] > 5 * charged[0]
    # The raw rate of a robot that has run 6 hours without a collision is 0; the credible
    # one is its complement, not a robot that never collides.
    young = credible_features(_plan(PRIOR), _robots([0.0], [6.0], [1.0]))
    assert young.item(0, "collision_rate") == pytest.approx(8 * 2 / (8 * 0.006 + 2))


def test_without_a_count_column_the_count_is_the_raw_rate_times_its_denominator() -> None:
    frame = _robots([3.0], [50.0], [0.0])
    with_count = credible_features(_plan(PRIOR), frame)
    without = credible_features(_plan(PRIOR), frame.drop("collision_count"))
    assert without.item(0, "collision_rate") == pytest.approx(with_count.item(0, "collision_rate"))


def test_a_class_without_a_prior_keeps_its_raw_rate() -> None:
    frame = _robots([3.0], [500.0], [0.0]).with_columns(pl.lit("mobile_robot").alias("robot_class"))
    assert credible_features(_plan(PRIOR), frame).item(0, "collision_rate") == pytest.approx(6.0)


def test_a_class_one_prior_does_not_know_keeps_that_raw_rate_not_nan() -> None:
    """Priors may name different classes: a robot of a class one prior lacks keeps that rate
    raw (a NaN would pass into the premium, or pick a banded factor's worst band)."""
    partial = PRIOR.model_copy(
        update={
            "feature": "protective_stop_rate",
            "count": "protective_stop_count",
            "intercept": {"mobile_robot": 1.0},
            "k": {"mobile_robot": 2.0},
        }
    )
    frame = _robots([3.0], [500.0], [0.0]).with_columns(
        pl.lit(4.0).alias("protective_stop_count"), pl.lit(8.0).alias("protective_stop_rate")
    )
    rates = credible_features(_plan(PRIOR, partial), frame)
    assert rates.item(0, "protective_stop_rate") == pytest.approx(8.0)
    assert not math.isnan(rates.item(0, "collision_rate"))


def test_a_class_without_events_in_the_book_is_not_priced_at_nothing() -> None:
    """The unpenalised GLM runs the intercept of a class without events toward minus infinity:
    such a class gets partial credibility toward the class with most events instead."""
    book = _book(600, 4, k_true=4.0, seed=8)
    arms = book.with_columns(
        pl.lit("industrial_arm").alias("robot_class"),
        pl.col("robot_id") + 10_000,
        pl.lit(0.0).alias("collision_count"),
    ).head(400)
    fitted = fit_priors(pl.concat([book, arms]), ["collision_rate"], ["cobot", "industrial_arm"])
    (prior,) = fitted.priors
    assert prior.intercept["industrial_arm"] == pytest.approx(prior.intercept["cobot"])
    assert fitted.report["collision_rate.sparse_classes"] == 1.0
    busy_arm = _robots([100.0], [5000.0], [0.0]).with_columns(
        pl.lit("industrial_arm").alias("robot_class")
    )
    plan = _plan(prior)
    assert credible_features(plan, busy_arm).item(0, "collision_rate") > 5.0


def test_priors_are_validated() -> None:
    with pytest.raises(ValidationError, match="same classes"):
        RatePrior.model_validate({**PRIOR.model_dump(), "k": {"mobile_robot": 1.0}})
    with pytest.raises(ValidationError, match="k must be"):
        RatePrior.model_validate({**PRIOR.model_dump(), "k": {"cobot": 0.0}})
    plan = starter_plan(NOW_FOR_TESTS).model_dump()
    with pytest.raises(ValidationError, match="one rate prior"):
        RatingPlan.model_validate({**plan, "rate_priors": [PRIOR.model_dump()] * 2})
    with pytest.raises(ValidationError, match="utilisation"):
        RatingPlan.model_validate({**plan, "class_utilisation": {"cobot": 1.5}})


def _book(robots: int, periods: int, k_true: float, seed: int) -> pl.DataFrame:
    """Robot-periods whose collisions are Poisson around mu(trend) x a gamma robot effect of
    mean 1 and variance 1 / k_true. With X = count / expected and the expected events as
    weights, the process variance per unit weight is E[effect] = 1 and the variance of the
    hypothetical means Var(effect) = 1 / k_true: Bühlmann's k = 1 / (1 / k_true) = k_true."""
    rng = np.random.default_rng(seed)
    trend = rng.uniform(0.0, 10.0, robots)
    mu = 2.0 * (1.0 + trend)  # per 1,000 h: intercept log 2, coefficient 1 on log1p(trend)
    effect = rng.gamma(k_true, 1.0 / k_true, robots)
    rows = []
    for period in range(periods):
        exposure = rng.uniform(400.0, 800.0, robots)
        counts = rng.poisson(mu * effect * exposure / 1000.0)
        rows.append(
            pl.DataFrame(
                {
                    "robot_id": np.arange(robots),
                    "robot_class": ["cobot"] * robots,
                    "period": [period] * robots,
                    "exposure_h": exposure,
                    "elapsed_h": exposure / 0.6,
                    "collision_count": counts.astype(np.float64),
                    "thermal_stress": np.zeros(robots),
                    "vibration_level": np.zeros(robots),
                    "vibration_trend": trend,
                }
            )
        )
    return pl.concat(rows)


def test_the_fit_recovers_a_known_complement_k_and_utilisation() -> None:
    fitted = fit_priors(_book(4000, 6, k_true=4.0, seed=5), ["collision_rate"], ["cobot"])
    (prior,) = fitted.priors
    assert prior.intercept["cobot"] == pytest.approx(math.log(2.0), abs=0.05)
    assert prior.covariates["vibration_trend"] == pytest.approx(1.0, abs=0.03)
    assert prior.k["cobot"] == pytest.approx(4.0, rel=0.2)
    assert fitted.class_utilisation["cobot"] == pytest.approx(0.6)


def test_a_book_its_signals_explain_entirely_gets_the_capped_k() -> None:
    fitted = fit_priors(_book(2000, 4, k_true=1e9, seed=6), ["collision_rate"], ["cobot"])
    assert fitted.priors[0].k["cobot"] == K_CAP


def test_the_starter_plans_priors_are_what_their_fit_gives() -> None:
    stored = json.loads(PRIORS_FILE.read_text())
    refitted = json.loads(json.dumps(fit_starter_priors()))
    assert refitted["class_utilisation"] == pytest.approx(stored["class_utilisation"], rel=1e-9)
    for mine, theirs in zip(refitted["rate_priors"], stored["rate_priors"], strict=True):
        assert mine["feature"] == theirs["feature"]
        for part in ("intercept", "covariates", "k"):
            assert mine[part] == pytest.approx(theirs[part], rel=1e-6, abs=1e-9)


def test_new_business_is_uncapped_only_under_credible_rates() -> None:
    """With rate priors a new robot pays its technical premium; a plan without them still caps
    new business against the class reference (its raw rates are biased low on little data)."""
    from risk_engine.calibration import SimulatedFleet, observed_features
    from risk_engine.premiums import score_frame

    fleet = SimulatedFleet(np.array([0.0, 0.9]), pl.Series("robot_class", ["cobot"] * 2))
    features = observed_features(fleet, 24, seed=2)
    empty = features.select("robot_id").head(0)
    experience = empty.with_columns(
        pl.lit(None, pl.Float64).alias("claim_count"),
        pl.lit(None, pl.Float64).alias("experience_h"),
    )
    previous = empty.with_columns(
        pl.lit(None, pl.Float64).alias("previous_premium"),
        pl.lit(None, pl.String).alias("previous_contributions"),
    )
    for plan in (starter_plan(NOW_FOR_TESTS), starter_plan(NOW_FOR_TESTS, with_priors=False)):
        scores = score_frame(plan, features, experience, previous)
        technical = scores.get_column("technical_premium").to_numpy()
        reference = scores.get_column("reference_premium").to_numpy()
        expected = (
            technical
            if plan.rate_priors
            else np.clip(technical, 0.75 * reference, 1.25 * reference)
        )
        np.testing.assert_allclose(scores.get_column("premium").to_numpy(), expected)
        assert plan.rate_priors or (technical < 0.75 * reference).any()  # the cap did bind
