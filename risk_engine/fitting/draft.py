"""`robocover risk fit`: frequency and severity GLMs on any table of claims, exposure and rating
factors, holdout deviance and Gini, and a draft rating plan from a refit on all rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from risk_engine.fitting.design import Design, build_design
from risk_engine.fitting.experience import DEFAULT_K, ClassEstimate, claims_credibility
from risk_engine.fitting.glm import GlmFit, fit_glm
from risk_engine.fitting.sparse import SparseLevel, credible_coefficients, level_claims
from risk_engine.kernels._types import BoolArray, FloatArray
from risk_engine.kernels.deviance import gamma_deviance, poisson_deviance
from risk_engine.kernels.lorenz import gini_index
from risk_engine.plans.default import factor_from_spec
from risk_engine.plans.schema import (
    BaseRate,
    CapRule,
    Credibility,
    Loadings,
    RatingFactor,
    RatingPlan,
)
from risk_engine.plans.structure import FactorSpec

ALL = "all"


class FitError(ValueError):
    """The table cannot be fitted as asked."""


@dataclass(frozen=True)
class FitRequest:
    """Which columns hold what. Exposure is in the unit frequencies are per 1,000 of."""

    claims: str
    exposure: str
    factors: tuple[FactorSpec, ...]
    base_variable: str | None = None
    amount: str | None = None
    coverage: str = "machinery_breakdown"
    holdout_share: float = 0.2
    seed: int = 0
    risk: str | None = None
    """The column naming each row's risk (a robot) when a risk has several rows (periods):
    the claims credibility k is then estimated per base level (``fitting.experience``)."""


@dataclass(frozen=True)
class FitResult:
    """excluded: the positions (from 0) in the table given of the rows left out for their
    exposure, and excluded_claims the claims those rows carried; sparse: the levels with too
    few claims to be rated on their own, shrunk toward the base level (``fitting.sparse``)."""

    plan: RatingPlan
    report: dict[str, float]
    frequency: GlmFit
    severity: GlmFit | None
    design: Design
    excluded: tuple[int, ...] = ()
    excluded_claims: float = 0.0
    sparse: tuple[SparseLevel, ...] = ()
    credibility: tuple[ClassEstimate, ...] = ()


def exposed_rows(frame: pl.DataFrame, request: FitRequest) -> BoolArray:
    """Which rows have a positive, finite exposure. A row of zero exposure adds nothing to a
    Poisson likelihood with offset log(exposure) (its mean is 0), and a missing, negative or
    infinite exposure has no place in one: the fit leaves those rows out."""
    exposure = frame.get_column(request.exposure).cast(pl.Float64).to_numpy()
    keep: BoolArray = np.isfinite(exposure) & (exposure > 0)
    return keep


def _specs(request: FitRequest, target: str) -> list[FactorSpec]:
    return [spec for spec in request.factors if spec.target == target]


def _frequency(frame: pl.DataFrame, request: FitRequest) -> tuple[GlmFit, Design, FloatArray]:
    exposure = frame.get_column(request.exposure).cast(pl.Float64).to_numpy()
    design = build_design(frame, _specs(request, "frequency"), request.base_variable, exposure)
    offset = np.log(exposure / 1000.0)
    claims = frame.get_column(request.claims).cast(pl.Float64).to_numpy()
    return fit_glm("poisson", design.matrix, claims, offset=offset), design, offset


def _severity(frame: pl.DataFrame, request: FitRequest) -> tuple[GlmFit, Design, BoolArray] | None:
    if request.amount is None:
        return None
    claims = frame.get_column(request.claims).cast(pl.Float64).to_numpy()
    has = claims > 0
    rows = frame.filter(pl.Series(has))
    weight = claims[has]
    design = build_design(rows, _specs(request, "severity"), request.base_variable, weight)
    average = rows.get_column(request.amount).cast(pl.Float64).to_numpy() / weight
    if average.size and np.ptp(average) == 0:
        raise FitError(
            f"every claim's average amount in column {request.amount!r} is {average[0]:,.2f}:"
            " a severity without variation cannot be fitted (fit the frequency alone)"
        )
    return fit_glm("gamma", design.matrix, average, weight=weight), design, has


def _holdout_metrics(frame: pl.DataFrame, request: FitRequest) -> dict[str, float]:
    rng = np.random.default_rng(request.seed)
    test = rng.random(frame.height) < request.holdout_share
    train, hold = frame.filter(pl.Series(~test)), frame.filter(pl.Series(test))
    fit, design, _ = _frequency(train, request)
    exposure = hold.get_column(request.exposure).cast(pl.Float64).to_numpy()
    hold_design = build_design(hold, _specs(request, "frequency"), request.base_variable, exposure)
    matrix = _align(hold_design, design)
    claims = hold.get_column(request.claims).cast(pl.Float64).to_numpy()
    predicted = fit.predict(matrix, np.log(exposure / 1000.0))
    train_claims = train.get_column(request.claims).cast(pl.Float64).to_numpy().sum()
    train_rate = train_claims / train.get_column(request.exposure).cast(pl.Float64).to_numpy().sum()
    return {
        "holdout_rows": float(hold.height),
        "holdout_poisson_deviance": poisson_deviance(claims, predicted),
        "holdout_null_deviance": poisson_deviance(claims, exposure * train_rate),
        "holdout_gini": gini_index(predicted / exposure, claims, exposure),
    }


def _align(design: Design, reference: Design) -> FloatArray:
    """``design``'s matrix with ``reference``'s columns (a level unseen in training rates 0)."""
    position = {key: i for i, key in enumerate(design.columns)}
    out = np.zeros((design.matrix.shape[0], len(reference.columns)))
    for j, key in enumerate(reference.columns):
        if key in position:
            out[:, j] = design.matrix[:, position[key]]
    return out


def _relativities(
    fit: GlmFit, design: Design, specs: list[FactorSpec], claims: FloatArray
) -> tuple[list[RatingFactor], list[SparseLevel]]:
    """The specs' relativities from the fit, sparse levels shrunk (``fitting.sparse``)."""
    dummies = {
        (spec.name, level)
        for spec in specs
        if spec.kind in ("categorical", "banded")
        for name, level in design.columns
        if name == spec.name
    }
    by_key, sparse = credible_coefficients(
        dict(zip(design.columns, fit.coefficients.tolist(), strict=True)),
        level_claims(design, claims),
        dummies,
    )
    factors = []
    for spec in specs:
        if spec.kind == "categorical":
            keys = [level for name, level in design.columns if name == spec.name]
            levels = {design.base_levels[spec.name]: 0.0} | {
                k: by_key[(spec.name, k)] for k in keys
            }
            factors.append(factor_from_spec(spec, levels))
        elif spec.kind == "banded":
            bands = [by_key.get((spec.name, str(b)), 0.0) for b in range(len(spec.breaks) + 1)]
            factors.append(factor_from_spec(spec, [0.0, *bands[1:]]))
        else:
            factors.append(factor_from_spec(spec, by_key[(spec.name, "")]))
    return factors, sparse


def _base_rates(
    request: FitRequest, frequency: tuple[GlmFit, Design], severity: tuple[GlmFit, Design] | None
) -> list[BaseRate]:
    def level_rate(fit: GlmFit, design: Design, level: str) -> float:
        key = (request.base_variable or "", level)
        coefficients = dict(zip(design.columns, fit.coefficients.tolist(), strict=True))
        return float(np.exp(fit.intercept + coefficients.get(key, 0.0)))

    fit, design = frequency
    if request.base_variable is None:
        levels = [ALL]
    else:
        base = design.base_levels[request.base_variable]
        levels = [base, *(lv for name, lv in design.columns if name == request.base_variable)]
    return [
        BaseRate(
            robot_class=level,
            coverage=request.coverage,
            frequency=level_rate(fit, design, level),
            severity=1.0 if severity is None else level_rate(*severity, level),
        )
        for level in levels
    ]


def fit_plan(frame: pl.DataFrame, request: FitRequest, *, effective_from: datetime) -> FitResult:
    """Holdout metrics from a fit on the rest, then the draft plan from a fit on every row.

    Rows whose exposure is missing, zero, negative or infinite are left out first, and counted
    (``excluded_rows`` in the report); with none left there is nothing to fit: FitError.
    """
    keep = exposed_rows(frame, request)
    excluded = tuple(np.flatnonzero(~keep).tolist())
    excluded_claims = float(
        frame.filter(pl.Series(~keep)).get_column(request.claims).cast(pl.Float64).sum()
    )
    if not keep.any():
        raise FitError(
            f"no row to fit: all {frame.height} rows have a missing, zero, negative or infinite"
            f" exposure in column {request.exposure!r}"
        )
    frame = frame.filter(pl.Series(keep))
    report = _holdout_metrics(frame, request)
    frequency, design, offset = _frequency(frame, request)
    claims = frame.get_column(request.claims).cast(pl.Float64).to_numpy()
    report["poisson_deviance"] = poisson_deviance(claims, frequency.predict(design.matrix, offset))
    report["rows"] = float(frame.height)
    report["excluded_rows"] = float(len(excluded))
    severity = _severity(frame, request)
    factors, sparse = _relativities(frequency, design, _specs(request, "frequency"), claims)
    if severity is not None:
        sev_fit, sev_design, has = severity
        average = frame.filter(pl.Series(has)).get_column(request.amount or "").to_numpy()
        weight = claims[has]
        report["gamma_deviance"] = gamma_deviance(
            average / weight, sev_fit.predict(sev_design.matrix), weight
        )
        severity_factors, sparse_severity = _relativities(
            sev_fit, sev_design, _specs(request, "severity"), weight
        )
        factors += severity_factors
        sparse += sparse_severity
    report["sparse_levels"] = float(len(sparse))
    credibility = Credibility(default_k=DEFAULT_K)
    estimates: list[ClassEstimate] = []
    if request.risk is not None:
        credibility, estimates = claims_credibility(
            frame,
            frequency.predict(design.matrix, offset),
            risk=request.risk,
            claims=request.claims,
            base_variable=request.base_variable,
        )
        for estimate in estimates:
            report.update(estimate.report())
    plan = RatingPlan(
        name=f"draft fitted on {frame.height} rows",
        effective_from=effective_from,
        base_rates=_base_rates(
            request, (frequency, design), None if severity is None else severity[:2]
        ),
        factors=factors,
        loadings=Loadings(expense_ratio=0.25, profit_margin=0.05, risk_margin=0.03),
        minimum_premium=150.0,
        cap=CapRule(max_increase=0.25, max_decrease=0.25),
        credibility=credibility,
        reference_annual_hours=4000.0,
        minimum_annual_hours=500.0,
        fit_report=report,
    )
    return FitResult(
        plan,
        report,
        frequency,
        None if severity is None else severity[0],
        design,
        excluded,
        excluded_claims,
        tuple(sparse),
        tuple(estimates),
    )
