"""Event rates estimated with credibility, by the plan's rate priors (``RatePrior``).

A robot that has run 6 hours and seen no collision has not shown a collision rate of 0: it has
shown almost nothing. Each rate with a prior in the plan becomes the gamma-Poisson posterior
mean ``mu * (count + k) / (mu * exposure / 1000 + k)`` (docs/risk.md, section 2): the robot's own
count weighs in as its exposure grows, against the complement ``mu`` that its class and its
condition signals imply. Rates without a prior keep the raw rule (count over max(exposure,
100 h)). Pure and vectorized: a feature frame in, the same frame with those rate columns
replaced out (numpy over columns; the class is looked up once for every prior).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from risk_engine.features.rating import MIN_RATE_EXPOSURE_H
from risk_engine.kernels._types import FloatArray, IntArray
from risk_engine.plans.schema import RatePrior, RatingPlan


def signal(values: FloatArray) -> FloatArray:
    """How a covariate enters the complement: ``log1p`` of its value floored at 0 (the hazards
    grow with a signal roughly in proportion, and rates are multiplicative); missing is 0."""
    result: FloatArray = np.fmax(values, 0.0)  # fmax: NaN gives 0
    np.log1p(result, out=result)
    return result


def _column(features: pl.DataFrame, name: str) -> FloatArray:
    values: FloatArray = features.get_column(name).cast(pl.Float64).fill_null(0.0).to_numpy()
    return values


@dataclass
class _Fleet:
    """What every prior reads of the frame, looked up once: class codes into ``classes``
    (``len(classes)`` for a class no prior knows, ``unknown`` if any robot has one), exposure in
    thousands of hours."""

    features: pl.DataFrame
    classes: list[str]
    codes: IntArray
    unknown: bool
    thousands: FloatArray

    def by_class(self, table: dict[str, float]) -> FloatArray:
        lookup = np.array([table.get(c, np.nan) for c in self.classes] + [np.nan])
        picked: FloatArray = np.take(lookup, self.codes)
        return picked


def _covariate_terms(priors: list[RatePrior], features: pl.DataFrame) -> FloatArray:
    """``sum of coefficient * signal`` (priors, n) of every prior: one (priors x covariates) by
    (covariates x n) product. A covariate the frame lacks counts as 0."""
    names = sorted({c for prior in priors for c in prior.covariates} & set(features.columns))
    if not names:
        return np.zeros((len(priors), features.height))
    signals = np.empty((len(names), features.height))
    for row, name in zip(signals, names, strict=True):
        row[:] = signal(_column(features, name))
    weights = np.array([[prior.covariates.get(name, 0.0) for name in names] for prior in priors])
    terms: FloatArray = weights @ signals
    return terms


def credible_rate(prior: RatePrior, fleet: _Fleet, term: FloatArray) -> FloatArray:
    """The robots' credible rates of ``prior.feature`` (n,), per 1,000 operating hours, with
    ``term`` its covariate term (n,), overwritten.

    Without the count column (a table of rates only), the count is the raw rate times its
    denominator; a class without a prior keeps its rate."""
    raw = _column(fleet.features, prior.feature)
    k = fleet.by_class(prior.k)
    if prior.count in fleet.features.columns:
        numerator = _column(fleet.features, prior.count) + k
    else:
        numerator = raw * np.maximum(fleet.thousands, MIN_RATE_EXPOSURE_H / 1000.0) + k
    # mu (N + k) / (mu e + k) = (N + k) / (e + k / mu), and k / mu = exp(log k - a - term).
    shrink = np.negative(term, out=term)
    shrink += fleet.by_class({c: np.log(k_c) - prior.intercept[c] for c, k_c in prior.k.items()})
    np.exp(shrink, out=shrink)
    shrink += fleet.thousands
    numerator /= shrink
    if fleet.unknown or not set(fleet.classes) <= set(prior.k):
        # Robots of a class this prior does not know keep their raw rate.
        np.copyto(numerator, raw, where=np.isnan(k))
    return numerator


def class_codes(classes: list[str], robot_class: pl.Series) -> IntArray:
    """Each robot's class as its index in ``classes``; ``len(classes)`` for any other class."""
    code = pl.lit(len(classes), pl.Int64)
    for index, name in reversed(list(enumerate(classes))):
        code = pl.when(pl.col("robot_class") == name).then(pl.lit(index, pl.Int64)).otherwise(code)
    codes: IntArray = robot_class.to_frame("robot_class").select(code).to_series().to_numpy()
    return codes


def credible_features(
    plan: RatingPlan, features: pl.DataFrame, codes: IntArray | None = None
) -> pl.DataFrame:
    """``features`` with every rate the plan has a prior for replaced by its credible rate.
    ``codes``: the robots' ``class_codes(plan.robot_classes, ...)`` if the caller has them."""
    if not plan.rate_priors:
        return features
    classes = plan.robot_classes
    if codes is None:
        codes = class_codes(classes, features.get_column("robot_class"))
    thousands = np.clip(_column(features, "exposure_h"), 0.0, None) / 1000.0
    unknown = bool((codes == len(classes)).any())
    fleet = _Fleet(features, classes, codes, unknown, thousands)
    terms = _covariate_terms(plan.rate_priors, features)
    return features.with_columns(
        pl.Series(prior.feature, credible_rate(prior, fleet, terms[j]))
        for j, prior in enumerate(plan.rate_priors)
    )
