"""Fitting the plan's rate priors and class utilisation from a book of robot-periods.

For each event-rate feature the plan rates: a Poisson GLM of the period's event count on the
robot's class and its condition signals (``COVARIATES``), offset log(operating hours / 1,000),
gives the complement ``mu``; then, per class, the Bühlmann-Straub estimators
(``kernels.credibility.buhlmann_straub``) on each robot's periods, with ``X = count / expected``
and weights the expected events, give k (in expected events) for what the signals leave
unexplained. The class utilisation is the book's operating hours over its calendar hours.

The book has one row per robot and period: robot_id, robot_class, exposure_h, elapsed_h, the
count features (``RATE_OF_COUNT``) and the covariates. Robots need several periods for k.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from risk_engine.features.credible import signal
from risk_engine.features.rating import RATE_OF_COUNT
from risk_engine.fitting.glm import fit_glm
from risk_engine.fitting.sparse import FULL_CREDIBILITY_CLAIMS
from risk_engine.kernels.credibility import buhlmann_straub
from risk_engine.plans.schema import RatePrior

COVARIATES = ("thermal_stress", "vibration_level", "vibration_trend")
"""Condition signals measured well within hours of telemetry: the complement's variables."""

COUNT_OF_RATE = {rate: count for count, rate in RATE_OF_COUNT.items()}

K_CAP = 20.0
"""The largest k (expected events) a fit writes: however well the book's signals explain the
events, 20 expected events of a robot's own record carry half the weight, so a robot that keeps
colliding is charged for it even while its signals look healthy (a judgment, in docs/risk.md)."""


class NoEventsError(ValueError):
    """The book holds no event of the feature: nothing to fit its complement on."""


@dataclass(frozen=True)
class FittedPriors:
    """The rate priors, the class utilisation, and what the fit saw (for the fit report)."""

    priors: list[RatePrior]
    class_utilisation: dict[str, float]
    report: dict[str, float]


def _class_codes(book: pl.DataFrame, classes: Sequence[str]) -> np.ndarray:
    return (
        book.get_column("robot_class")
        .replace_strict(list(classes), list(range(len(classes))), return_dtype=pl.Int64)
        .to_numpy()
    )


def fit_rate_prior(
    book: pl.DataFrame,
    feature: str,
    classes: Sequence[str],
    covariates: Sequence[str] = COVARIATES,
) -> tuple[RatePrior, dict[str, float]]:
    """One feature's prior: the complement's GLM, then k per class; and report figures."""
    count_column = COUNT_OF_RATE[feature]
    rows = book.filter(pl.col("exposure_h") > 0)
    codes = _class_codes(rows, classes)
    counts = rows.get_column(count_column).cast(pl.Float64).to_numpy()
    events = np.bincount(codes, weights=counts, minlength=len(classes))
    if events.sum() <= 0:
        raise NoEventsError(f"no {count_column} in the book: no prior for {feature}")
    # The class with most events is the GLM's base: a class without events must not be it.
    # A class without events has no maximum-likelihood rate (its intercept runs toward minus
    # infinity): its rows stay out of the GLM and it takes the base class's (Z = 0 below).
    base = int(np.argmax(events))
    others = [c for c in range(len(classes)) if c != base and events[c] > 0]
    dummies = (codes[:, None] == np.array(others, dtype=np.int64)[None, :]).astype(np.float64)
    signals = np.column_stack(
        [signal(rows.get_column(c).cast(pl.Float64).fill_null(0.0).to_numpy()) for c in covariates]
    )
    matrix = np.hstack([dummies, signals])
    thousands = rows.get_column("exposure_h").to_numpy() / 1000.0
    fitted = events[codes] > 0
    fit = fit_glm("poisson", matrix[fitted], counts[fitted], offset=np.log(thousands[fitted]))
    # A class with few events (none: the GLM runs its intercept toward minus infinity) gets
    # partial credibility toward the base class (as fitting.sparse does for levels).
    shifts = np.zeros(len(classes))
    for column, code in enumerate(others):
        z = min(1.0, math.sqrt(events[code] / FULL_CREDIBILITY_CLAIMS))
        shifts[code] = z * fit.coefficients[column]
    intercepts = fit.intercept + shifts
    slopes = fit.coefficients[len(others) :]
    expected = np.exp(intercepts[codes] + signals @ slopes) * thousands
    robot_index = rows.get_column("robot_id").rank("dense").cast(pl.Int64).to_numpy() - 1
    k: dict[str, float] = {}
    report: dict[str, float] = {}
    for code, robot_class in enumerate(classes):
        member = (codes == code) & (expected > 0)
        _, group = np.unique(robot_index[member], return_inverse=True)
        try:
            parameters = buhlmann_straub(group, counts[member] / expected[member], expected[member])
            k_class = min(parameters.k, K_CAP)
        except ValueError:  # too few robots or periods: the cap, the least weight a count gets
            k_class = K_CAP
        k[robot_class] = k_class
        report[f"{feature}.k.{robot_class}"] = k_class
    report[f"{feature}.events"] = float(counts.sum())
    report[f"{feature}.sparse_classes"] = float((events < FULL_CREDIBILITY_CLAIMS).sum())
    report[f"{feature}.expected"] = float(expected.sum())
    prior = RatePrior(
        feature=feature,
        count=count_column,
        intercept={c: float(a) for c, a in zip(classes, intercepts, strict=True)},
        covariates={name: float(b) for name, b in zip(covariates, slopes, strict=True)},
        k=k,
    )
    return prior, report


def fit_priors(book: pl.DataFrame, features: Sequence[str], classes: Sequence[str]) -> FittedPriors:
    """Priors for ``features`` (rate features with a count) and the utilisation of ``classes``."""
    priors, report = [], {"prior_book_rows": float(book.height)}
    for feature in features:
        try:
            prior, figures = fit_rate_prior(book, feature, classes)
        except NoEventsError:  # the plan rates this feature by its raw rate
            report[f"{feature}.skipped_no_events"] = 1.0
            continue
        priors.append(prior)
        report.update(figures)
    hours = book.group_by("robot_class").agg(
        pl.col("exposure_h").sum().alias("operated"), pl.col("elapsed_h").sum().alias("elapsed")
    )
    utilisation = {
        row["robot_class"]: min(1.0, row["operated"] / row["elapsed"])
        for row in hours.iter_rows(named=True)
        if row["robot_class"] in classes and row["elapsed"] > 0 and row["operated"] > 0
    }
    return FittedPriors(priors, utilisation, report)


def credible_rate_features(factor_variables: Sequence[str]) -> list[str]:
    """The plan's rated variables that are event rates with a count (what gets a prior)."""
    return [v for v in dict.fromkeys(factor_variables) if v in COUNT_OF_RATE]
