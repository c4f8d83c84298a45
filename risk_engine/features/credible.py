"""Event rates estimated with credibility, by the plan's rate priors (``RatePrior``).

A robot that has run 6 hours and seen no collision has not shown a collision rate of 0: it has
shown almost nothing. Each rate with a prior in the plan becomes the gamma-Poisson posterior
mean ``mu * (count + k) / (mu * exposure / 1000 + k)`` (docs/risk.md, section 2): the robot's own
count weighs in as its exposure grows, against the complement ``mu`` that its class and its
condition signals imply. Rates without a prior keep the raw rule (count over max(exposure,
100 h)). Pure: a feature frame in, the same frame with those rate columns replaced out.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from risk_engine.features.rating import MIN_RATE_EXPOSURE_H
from risk_engine.plans.schema import RatePrior, RatingPlan


def complement(prior: RatePrior, columns: Collection[str] | None = None) -> pl.Expr:
    """``mu`` (events per 1,000 h) of each robot: exp(intercept of its class + the sum of
    each covariate's coefficient times its ``signal``). A covariate missing from ``columns``
    (a table of rates without that signal) counts as a signal of 0."""
    classes = list(prior.intercept)
    intercept = pl.col("robot_class").replace_strict(
        classes, [prior.intercept[c] for c in classes], default=None, return_dtype=pl.Float64
    )
    linear = intercept
    for covariate, coefficient in prior.covariates.items():
        if columns is None or covariate in columns:
            linear = linear + coefficient * signal(pl.col(covariate))
    return linear.exp()


def signal(column: pl.Expr) -> pl.Expr:
    """How a covariate enters the complement: ``log1p`` of its value floored at 0 (the
    hazards grow with a signal roughly in proportion, and rates are multiplicative)."""
    return column.cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0).log1p()


def credible_rate(prior: RatePrior, columns: Collection[str] | None = None) -> pl.Expr:
    """The robot's credible rate of ``prior.feature``, per 1,000 operating hours, over a frame
    of ``columns`` (None: every column there is). Without the count column (a table of rates
    only), the count is the raw rate times its denominator."""
    has_count = columns is None or prior.count in columns
    classes = list(prior.k)
    k = pl.col("robot_class").replace_strict(
        classes, [prior.k[c] for c in classes], default=None, return_dtype=pl.Float64
    )
    mu = complement(prior, columns)
    thousands = pl.col("exposure_h").cast(pl.Float64).clip(lower_bound=0.0) / 1000.0
    count = (
        (
            pl.col(prior.count)
            if has_count
            else pl.col(prior.feature) * thousands.clip(lower_bound=MIN_RATE_EXPOSURE_H / 1000.0)
        )
        .cast(pl.Float64)
        .fill_null(0.0)
    )
    estimate = mu * (count + k) / (mu * thousands + k)
    # A class the prior does not know keeps the raw rate (the plan's validation lists classes).
    return pl.when(k.is_not_null()).then(estimate).otherwise(pl.col(prior.feature))


def credible_features(plan: RatingPlan, features: pl.DataFrame) -> pl.DataFrame:
    """``features`` with every rate the plan has a prior for replaced by its credible rate."""
    if not plan.rate_priors:
        return features
    return features.with_columns(
        credible_rate(prior, features.columns).alias(prior.feature) for prior in plan.rate_priors
    )
