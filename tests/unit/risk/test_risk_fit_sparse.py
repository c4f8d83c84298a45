"""A book with a claim-free level and a thin one: flagged and shrunk, never a near-zero rate."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from risk_engine.fit_command import categorical_specs
from risk_engine.fitting.draft import FitRequest, fit_plan
from risk_engine.fitting.sparse import FULL_CREDIBILITY_CLAIMS


def _motor_book(policies: int = 25_000, seed: int = 7) -> pl.DataFrame:
    """Five categorical factors; level "rare" of "region" has a few years of exposure, no claim
    (forced), and level "thin" a handful of claims."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], policies, p=[0.4, 0.3, 0.2, 0.1])
    region[:5] = "rare"
    region[5:60] = "thin"
    exposure = rng.uniform(0.2, 1.0, policies)
    exposure[:5] = 5.3 / 5  # 5.3 years in all
    factors = {
        "region": region,
        "age": rng.choice(["young", "mid", "old"], policies),
        "power": rng.choice(["low", "mid", "high", "max"], policies),
        "use": rng.choice(["private", "business"], policies),
        "cover": rng.choice(["basic", "plus", "full"], policies),
    }
    log_rate = np.log(0.1) + np.where(factors["age"] == "young", 0.5, 0.0)
    log_rate += np.where(factors["power"] == "max", 0.4, 0.0)
    log_rate += np.where(region == "thin", 0.8, 0.0)
    claims = rng.poisson(np.exp(log_rate) * exposure).astype(np.float64)
    claims[:5] = 0.0
    return pl.DataFrame({**factors, "exposure": exposure, "claims": claims})


def test_a_claim_free_level_gets_the_base_rate_and_a_thin_one_partial_credibility() -> None:
    book = _motor_book()
    columns = ["region", "age", "power", "use", "cover"]
    request = FitRequest(
        claims="claims",
        exposure="exposure",
        factors=categorical_specs(columns, severity=False),
        holdout_share=0.2,
    )
    result = fit_plan(book, request, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    sparse = {(s.factor, s.level): s for s in result.sparse}
    rare, thin = sparse[("region_freq", "rare")], sparse[("region_freq", "thin")]
    assert rare.claims == 0.0
    assert rare.fitted < -5.0  # what maximum likelihood gives a level with no claim
    assert rare.kept == 0.0  # the base level's rate, not exp(-17)
    assert 0 < thin.claims < FULL_CREDIBILITY_CLAIMS
    assert thin.kept == pytest.approx(
        math.sqrt(thin.claims / FULL_CREDIBILITY_CLAIMS) * thin.fitted
    )
    assert result.report["sparse_levels"] == float(len(result.sparse))
    region = next(f for f in result.plan.factors if f.name == "region_freq")
    assert region.levels["rare"] == 0.0
    # Levels with enough claims keep exactly what the GLM fitted.
    fitted = dict(zip(result.design.columns, result.frequency.coefficients, strict=True))
    for level, value in region.levels.items():
        if ("region_freq", level) in fitted and ("region_freq", level) not in sparse:
            assert value == pytest.approx(fitted[("region_freq", level)])
    assert min(region.levels.values()) > -2.0
