"""Scoring a fleet under a rating plan: pure functions, whole fleet at once, no I/O.

``compile_factors`` turns a plan and a feature frame into arrays; ``score_fleet`` runs the kernels:
frequency, severity, projected hours, pure and technical premium, the Bühlmann-Straub experience
modification, the cap and minimum, the exact log-scale decomposition and the top four reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from risk_engine.kernels import credibility, explain, pricing, rating
from risk_engine.kernels._types import BoolArray, FloatArray, IntArray
from risk_engine.plans.schema import RatingFactor, RatingPlan

# Contributions besides the plan's factors, in this order after them, with their reason texts.
EXTRA_CONTRIBUTIONS: dict[str, str] = {
    "operating_hours": "More projected operating hours",
    "claims_experience": "The robot's own claims experience",
    "rate_plan": "A new rate plan or base rate for the robot's class",
    "cap_and_minimum": "Phasing in of a change limited by the cap, or the minimum premium",
}
REASON_COUNT = 4


@dataclass(frozen=True)
class CompiledFactors:
    """A plan's factors evaluated on a fleet: log_relativities (n, F), which are frequency and
    which severity factors (F,), the contribution names and reason texts (F + 4,)."""

    log_relativities: FloatArray
    frequency_factors: BoolArray
    severity_factors: BoolArray
    names: tuple[str, ...]
    reasons: tuple[str, ...]
    # compile_factors' (F + 4, n) buffer of which log_relativities is the first F rows,
    # transposed: taken (once) by score_fleet for the contributions.
    spare: list[FloatArray] = field(default_factory=list, repr=False, compare=False)


@dataclass(frozen=True)
class FleetInputs:
    """Per-robot arrays (n,) for ``score_fleet``; money in the plan's currency."""

    base_frequency: FloatArray  # claims per 1,000 h, summed over coverages
    base_severity: FloatArray  # currency per claim
    credibility_k: FloatArray  # expected claims
    prior_utilisation: FloatArray  # operating / calendar hours the projection blends toward
    exposure_h: FloatArray  # operating hours so far in the period
    elapsed_h: FloatArray  # calendar hours so far in the period
    claim_count: FloatArray  # claims over the experience window
    experience_h: FloatArray  # operating hours over the experience window
    previous_premium: FloatArray  # premium in force at the end of the last period; NaN if new
    previous_contributions: FloatArray  # (n, F + 4), zeros where new


@dataclass(frozen=True)
class FleetScores:
    """Results (n,) unless stated: frequency per 1,000 h, severity per claim, hours a year,
    premiums a year; contributions (n, F + 4) on the log scale; reasons (n, 4)."""

    expected_frequency: FloatArray
    expected_severity: FloatArray
    annual_hours: FloatArray
    pure_premium: FloatArray
    credibility: FloatArray
    experience_mod: FloatArray
    technical_premium: FloatArray
    reference_premium: FloatArray
    premium: FloatArray
    contributions: FloatArray
    reason_index: IntArray
    reason_delta: FloatArray


def factor_log_relativity(
    factor: RatingFactor, column: pl.Series, out: FloatArray | None = None
) -> FloatArray:
    """One factor's log-relativities (n,) on its variable's column, into ``out`` if given."""
    result = np.empty(column.len()) if out is None else out
    if factor.kind == "categorical":
        levels = list(factor.levels)
        codes = column.cast(pl.String).replace_strict(
            levels, list(range(len(levels))), default=-1, return_dtype=pl.Int64
        )
        values = np.array(list(factor.levels.values()), dtype=np.float64)
        np.copyto(result, rating.categorical_log_relativity(codes.to_numpy(), values))
    elif factor.kind == "banded":
        rating.banded_log_relativity(
            column.cast(pl.Float64).to_numpy(),
            np.array(factor.breaks, dtype=np.float64),
            np.array(factor.band_log_relativities, dtype=np.float64),
            out=result,
        )
    else:
        rating.continuous_log_relativity(
            column.cast(pl.Float64).to_numpy(),
            factor.coefficient,
            reference=factor.reference,
            lower=-np.inf if factor.lower is None else factor.lower,
            upper=np.inf if factor.upper is None else factor.upper,
            transform=factor.transform,
            out=result,
        )
    if factor.adverse_only:
        np.maximum(result, 0.0, out=result)
    return result


def compile_factors(plan: RatingPlan, features: pl.DataFrame) -> CompiledFactors:
    """Evaluate every factor of ``plan`` on ``features`` (one row per robot). The matrix is
    column-major (each factor's column contiguous): every later pass runs factor by factor."""
    # Four rows more than the factors: score_fleet writes the other contributions there, so the
    # (F + 4, n) matrix of contributions is built without copying the factors' rows.
    count = len(plan.factors)
    by_contribution = np.empty((count + len(EXTRA_CONTRIBUTIONS), features.height))
    for row, factor in zip(by_contribution[:count], plan.factors, strict=True):
        factor_log_relativity(factor, features.get_column(factor.variable), out=row)
    return CompiledFactors(
        log_relativities=by_contribution[:count].T,
        spare=[by_contribution],
        frequency_factors=np.array([f.target == "frequency" for f in plan.factors], dtype=bool),
        severity_factors=np.array([f.target == "severity" for f in plan.factors], dtype=bool),
        names=(*(f.name for f in plan.factors), *EXTRA_CONTRIBUTIONS),
        reasons=(*(f.reason for f in plan.factors), *EXTRA_CONTRIBUTIONS.values()),
    )


def class_rates(plan: RatingPlan, robot_class: pl.Series) -> tuple[FloatArray, ...]:
    """(base frequency, base severity, credibility k) (n,) each, by each robot's class."""
    classes = plan.robot_classes
    codes = robot_class.replace_strict(classes, list(range(len(classes))), return_dtype=pl.Int64)
    table = np.array([(*plan.class_rates(c), plan.credibility.k_of(c)) for c in classes])
    picked = table[codes.to_numpy()]
    return picked[:, 0].copy(), picked[:, 1].copy(), picked[:, 2].copy()


def class_utilisation(plan: RatingPlan, robot_class: pl.Series) -> FloatArray:
    """What each robot's hours projection blends toward (n,): its class's utilisation."""
    classes = plan.robot_classes
    utilisation: FloatArray = robot_class.replace_strict(
        classes, [plan.utilisation_of(c) for c in classes], return_dtype=pl.Float64
    ).to_numpy()
    return utilisation


def hazard(plan: RatingPlan, features: pl.DataFrame) -> tuple[FloatArray, FloatArray]:
    """(frequency per 1,000 h, severity per claim) (n,) each: the plan's base rates and factors
    at the features as given (no credibility, no experience)."""
    factors = compile_factors(plan, features)
    base_frequency, base_severity, _ = class_rates(plan, features.get_column("robot_class"))
    logs = factors.log_relativities
    return (
        pricing.expected_frequency(base_frequency, logs, factors.frequency_factors),
        pricing.expected_severity(base_severity, logs, factors.severity_factors),
    )


def _contribution_rows(factors: CompiledFactors) -> FloatArray:
    """The (F + 4, n) buffer whose first F rows are the factors' log-relativities: the one
    compile_factors left for the first score of these factors (no copy), else a new one (a
    second score must not write into the first one's contributions)."""
    logs = factors.log_relativities
    if factors.spare:
        return factors.spare.pop()
    by_contribution = np.empty((logs.shape[1] + 4, logs.shape[0]))
    np.copyto(by_contribution[:-4], logs.T)
    return by_contribution


def score_fleet(plan: RatingPlan, factors: CompiledFactors, inputs: FleetInputs) -> FleetScores:
    """Score every robot: see the module docstring and docs/risk.md for the formulas."""
    multiplier = plan.loadings.multiplier
    logs = factors.log_relativities
    frequency = pricing.expected_frequency(inputs.base_frequency, logs, factors.frequency_factors)
    severity = pricing.expected_severity(inputs.base_severity, logs, factors.severity_factors)
    hours = pricing.projected_annual_hours(
        inputs.exposure_h,
        inputs.elapsed_h,
        inputs.prior_utilisation,
        plan.usage_prior_hours,
        plan.minimum_annual_hours,
    )
    expected_claims = frequency * inputs.experience_h / 1000.0
    z, mod = credibility.experience_modification(
        inputs.claim_count, expected_claims, inputs.credibility_k
    )
    pure = pricing.pure_premium(frequency, severity, hours) * mod
    technical = pricing.technical_premium(pure, multiplier)
    # The class reference premium: the class's hazard at the hours the class operates (its
    # utilisation in the plan, else the plan's reference hours).
    class_hours = inputs.prior_utilisation * pricing.HOURS_PER_YEAR
    reference_premium = (
        inputs.base_frequency * inputs.base_severity * class_hours / 1000.0
    ) * multiplier
    new = np.isnan(inputs.previous_premium)
    in_force = np.where(new, reference_premium, inputs.previous_premium)
    premium = pricing.capped_premium(
        technical, in_force, plan.minimum_premium, plan.cap.max_increase, plan.cap.max_decrease
    )
    if plan.rate_priors:
        # The cap limits changes between periods of a policy in force; with credible rates a
        # new robot's first premium is its technical premium, uncapped. A plan without rate
        # priors keeps capping new business against the class reference: its raw rates are
        # biased low on little data (docs/risk.md, "Minimum and cap").
        np.copyto(premium, np.maximum(technical, plan.minimum_premium), where=new)
    # Column-major (n, F + 4): one contiguous row of the transposed buffer per contribution;
    # compile_factors left room for the four after the factors' (else they are copied).
    by_contribution = _contribution_rows(factors)
    np.divide(hours, class_hours, out=by_contribution[-4])
    np.log(by_contribution[-4], out=by_contribution[-4])
    np.log(mod, out=by_contribution[-3])
    np.log(reference_premium, out=by_contribution[-2])
    np.divide(premium, technical, out=by_contribution[-1])
    np.log(by_contribution[-1], out=by_contribution[-1])
    contributions = by_contribution.T
    # Against the previous period's contributions, or for a robot with no premium in force its
    # class reference: every contribution 0 except the rate plan's, which is the current one.
    index, delta = explain.top_reasons(
        contributions,
        inputs.previous_contributions,
        REASON_COUNT,
        new=new,
        carried_column=logs.shape[1] + 2,
    )
    return FleetScores(
        frequency,
        severity,
        hours,
        pure,
        z,
        mod,
        technical,
        in_force,
        premium,
        contributions,
        index,
        delta,
    )
