"""Rating plans as validated data; scoring a fleet against a robot-by-robot reference."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from risk_engine.plans.default import starter_plan
from risk_engine.plans.schema import Credibility, Loadings, RatingFactor, RatingPlan
from risk_engine.premiums import PlanDoesNotRateClassError, score_frame
from risk_engine.simulate import simulate_features

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _factor(**overrides: object) -> dict[str, object]:
    return {
        "name": "x",
        "variable": "x",
        "target": "frequency",
        "kind": "continuous",
        "reason": "x rose",
        **overrides,
    }


def test_plans_refuse_inconsistent_data() -> None:
    with pytest.raises(ValidationError, match="ascending"):
        RatingFactor.model_validate(_factor(kind="banded", breaks=[2.0, 1.0]))
    with pytest.raises(ValidationError, match="len"):
        RatingFactor.model_validate(
            _factor(kind="banded", breaks=[1.0], band_log_relativities=[0.0])
        )
    with pytest.raises(ValidationError, match="needs levels"):
        RatingFactor.model_validate(_factor(kind="categorical"))
    with pytest.raises(ValidationError, match="leave something"):
        Loadings(expense_ratio=0.6, profit_margin=0.4, risk_margin=0.0)
    plan = starter_plan(NOW).model_dump()
    with pytest.raises(ValidationError, match="unique"):
        RatingPlan.model_validate({**plan, "factors": plan["factors"] * 2})
    with pytest.raises(ValidationError, match="one base rate"):
        RatingPlan.model_validate({**plan, "base_rates": plan["base_rates"] * 2})
    with pytest.raises(ValidationError, match="effective_to"):
        RatingPlan.model_validate({**plan, "effective_to": NOW})
    with pytest.raises(KeyError, match="no base rate"):
        starter_plan(NOW).class_rates("humanoid")
    assert Credibility(k={"cobot": 3.0}, default_k=8.0).k_of("cobot") == 3.0


def _features(n: int) -> pl.DataFrame:
    return simulate_features(n, seed=8).with_columns(
        pl.lit(720.0).alias("elapsed_h"),
        (pl.col("exposure_h") / 10).alias("exposure_h"),
        *(
            pl.lit(0.0).alias(c)
            for c in (
                "observed_h",
                "utilisation",
                "over_temperature_rate",
                "fault_rate_info",
                "fault_rate_warning",
                "fault_rate_error",
                "vibration_trend",
                "firmware_age_days",
            )
        ),
    )


def _credible(plan: RatingPlan, row: dict[str, float]) -> dict[str, float]:
    """The plan's credible rates of one robot, by docs/risk.md section 2 (the frame has rates
    only: the count is the rate times its raw denominator)."""
    credible = dict(row)
    klass = str(row["robot_class"])
    for prior in plan.rate_priors:
        mu = math.exp(
            prior.intercept[klass]
            + sum(c * math.log1p(max(row[name], 0.0)) for name, c in prior.covariates.items())
        )
        count = row[prior.feature] * max(row["exposure_h"], 100.0) / 1000
        k = prior.k[klass]
        credible[prior.feature] = mu * (count + k) / (mu * row["exposure_h"] / 1000 + k)
    return credible


def _reference_premium(plan: RatingPlan, row: dict[str, float], claims: float) -> float:
    """One robot, new business, by the formulas of docs/risk.md, in plain Python."""
    freq_base, sev_base = plan.class_rates(str(row["robot_class"]))
    row = _credible(plan, row)
    freq_log = sev_log = 0.0
    for f in plan.factors:
        x = row[f.variable]
        if f.kind == "banded":
            value = f.band_log_relativities[sum(1 for b in f.breaks if x >= b)]
        else:
            clipped = min(
                max(x, -math.inf if f.lower is None else f.lower),
                math.inf if f.upper is None else f.upper,
            )
            g = math.log1p if f.transform == "log1p" else (lambda v: v)
            value = f.coefficient * (g(clipped) - g(f.reference))
        value = max(value, 0.0) if f.adverse_only else value
        if f.target == "frequency":
            freq_log += value
        else:
            sev_log += value
    freq, sev = freq_base * math.exp(freq_log), sev_base * math.exp(sev_log)
    u = plan.class_utilisation[str(row["robot_class"])]
    hours = max(500.0, 8760 * (row["exposure_h"] + u * 168) / (720 + 168))
    expected = freq * 3000 / 1000
    z = expected / (expected + 8.0)
    mod = z * claims / expected + 1 - z
    technical = freq * sev * hours / 1000 * mod * 1.03 / 0.70
    return max(technical, 150.0)  # new business: uncapped, the minimum premium holds


def test_score_frame_matches_a_robot_by_robot_reference() -> None:
    plan = starter_plan(NOW)
    features = _features(300)
    claims = np.random.default_rng(1).poisson(0.5, 300).astype(np.float64)
    experience = pl.DataFrame(
        {
            "robot_id": features.get_column("robot_id"),
            "claim_count": claims,
            "experience_h": np.full(300, 3000.0),
        }
    )
    previous = pl.DataFrame(
        schema={
            "robot_id": pl.String,
            "previous_premium": pl.Float64,
            "previous_contributions": pl.String,
        }
    )
    scores = score_frame(plan, features, experience, previous)
    for i, row in enumerate(features.iter_rows(named=True)):
        assert scores.item(i, "premium") == pytest.approx(_reference_premium(plan, row, claims[i]))


def test_a_class_the_plan_does_not_rate_is_refused() -> None:
    features = _features(3).with_columns(pl.lit("humanoid").alias("robot_class"))
    empty = pl.DataFrame(
        schema={"robot_id": pl.String, "claim_count": pl.Float64, "experience_h": pl.Float64}
    )
    previous = pl.DataFrame(
        schema={
            "robot_id": pl.String,
            "previous_premium": pl.Float64,
            "previous_contributions": pl.String,
        }
    )
    with pytest.raises(PlanDoesNotRateClassError, match="humanoid"):
        score_frame(starter_plan(NOW), features, empty, previous)


def test_categorical_factors_rate_their_levels() -> None:
    plan = starter_plan(NOW).model_copy(
        update={
            "factors": [
                RatingFactor.model_validate(
                    _factor(
                        name="maker",
                        variable="maker",
                        kind="categorical",
                        levels={"acme": 0.0, "bolt": 0.5},
                    )
                )
            ]
        }
    )
    features = _features(3).with_columns(pl.Series("maker", ["acme", "bolt", "unknown"]))
    empty = pl.DataFrame(
        schema={"robot_id": pl.String, "claim_count": pl.Float64, "experience_h": pl.Float64}
    )
    previous = pl.DataFrame(
        schema={
            "robot_id": pl.String,
            "previous_premium": pl.Float64,
            "previous_contributions": pl.String,
        }
    )
    scores = score_frame(plan, features, empty, previous)
    contributions = (
        scores.get_column("contributions")
        .str.json_decode(pl.Struct({"maker": pl.Float64}))
        .struct.field("maker")
    )
    assert contributions.to_list() == [0.0, 0.5, 0.0]
