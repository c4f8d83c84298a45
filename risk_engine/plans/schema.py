"""The rating plan: what an actuary files, as a validated, serialisable value.

A plan is multiplicative (log link): for a robot of class k,

    frequency = sum over coverages c of base_frequency[k, c] x prod(frequency relativities)
    severity  = claim-weighted base severity of class k        x prod(severity relativities)
    pure      = frequency x severity x annual operating hours / 1,000

then loadings, the credibility-weighted experience modification, the cap and the minimum premium.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from risk_engine.kernels.pricing import HOURS_PER_YEAR, loading_multiplier
from risk_engine.kernels.rating import Transform

PlanStatus = Literal["draft", "approved", "retired"]
FactorTarget = Literal["frequency", "severity"]
FactorKind = Literal["categorical", "banded", "continuous"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BaseRate(_Frozen):
    """Base frequency and severity of one robot class and coverage, at every factor's base."""

    robot_class: str
    coverage: str
    frequency: float = Field(gt=0, description="claims per 1,000 operating hours")
    severity: float = Field(gt=0, description="currency per claim")

    @property
    def rate(self) -> float:
        """Pure premium per 1,000 operating hours, in currency."""
        return self.frequency * self.severity


class RatingFactor(_Frozen):
    """One rating variable's relativities, on the log scale, for frequency or for severity."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    variable: str = Field(description="the feature (or table column) the factor rates")
    target: FactorTarget
    kind: FactorKind
    reason: str = Field(description="what an adverse-action notice says when this factor rises")
    # categorical: level -> log relativity (the base level is absent, or 0)
    levels: dict[str, float] = Field(default_factory=dict)
    # banded: ascending breaks (B,), log relativities of the B + 1 bands (the base band is 0)
    breaks: list[float] = Field(default_factory=list)
    band_log_relativities: list[float] = Field(default_factory=list)
    # continuous: coefficient x (g(clip(x)) - g(reference))
    coefficient: float = 0.0
    reference: float = 0.0
    lower: float | None = None
    upper: float | None = None
    transform: Transform = "identity"
    adverse_only: bool = Field(
        default=False,
        description="data-quality factors: the relativity is floored at 1, never a discount",
    )

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.kind == "banded":
            if sorted(self.breaks) != self.breaks or not self.breaks:
                raise ValueError(f"{self.name}: breaks must be non-empty and ascending")
            if len(self.band_log_relativities) != len(self.breaks) + 1:
                raise ValueError(f"{self.name}: a banded factor needs len(breaks) + 1 relativities")
        if self.kind == "categorical" and not self.levels:
            raise ValueError(f"{self.name}: a categorical factor needs levels")
        return self


class Loadings(_Frozen):
    """Gross-up from pure to technical premium: ``(1 + risk_margin) / (1 - expense - profit)``."""

    expense_ratio: float = Field(ge=0, lt=1)
    profit_margin: float = Field(ge=0, lt=1)
    risk_margin: float = Field(ge=0)

    @property
    def multiplier(self) -> float:
        return loading_multiplier(self.expense_ratio, self.profit_margin, self.risk_margin)

    @model_validator(mode="after")
    def _retained(self) -> Self:
        if self.expense_ratio + self.profit_margin >= 1:
            raise ValueError("expense ratio and profit margin must leave something for losses")
        return self


class CapRule(_Frozen):
    """Largest change of the charged premium from one rating period to the next, for new and
    renewing business alike (for new business, against the class reference premium)."""

    max_increase: float = Field(ge=0)
    max_decrease: float = Field(ge=0, le=1)


class Credibility(_Frozen):
    """Bühlmann-Straub k per robot class, in expected claims; a class absent gets ``default_k``."""

    k: dict[str, float] = Field(default_factory=dict)
    default_k: float = Field(gt=0)
    experience_years: int = Field(default=3, ge=1, le=10)

    def k_of(self, robot_class: str) -> float:
        return self.k.get(robot_class, self.default_k)


MAX_PRIOR_K = 1.0e6
"""k (expected events) stored when the data show no variation left around the complement (the
Bühlmann-Straub VHM is not positive): the robot's own count then never moves its rate."""


class RatePrior(_Frozen):
    """Credibility for one event-rate feature (events per 1,000 operating hours).

    The robot's rate is estimated as the posterior mean of a gamma-Poisson model,
    ``mu * (count + k) / (mu * exposure / 1000 + k)``: its own count over its exposure,
    weighted ``Z = E / (E + k)`` with ``E = mu * exposure / 1000`` its expected events, against
    the complement ``mu = exp(intercept[class] + sum of coefficient * log1p(max(covariate,
    0)))``, the rate the
    book shows for robots of its class with its condition signals (temperatures, vibration,
    battery wear), which are measured well within hours where events take weeks."""

    feature: str = Field(description="the rate feature estimated, e.g. collision_rate")
    count: str = Field(description="the feature holding the event count, e.g. collision_count")
    intercept: dict[str, float] = Field(
        min_length=1, description="per robot class: log events per 1,000 h at covariates 0"
    )
    covariates: dict[str, float] = Field(
        default_factory=dict, description="feature -> coefficient on the log scale"
    )
    k: dict[str, float] = Field(min_length=1, description="per robot class, in expected events")

    @model_validator(mode="after")
    def _classes(self) -> Self:
        if set(self.k) != set(self.intercept):
            raise ValueError(f"{self.feature}: k and intercept must name the same classes")
        if any(not 0 < k <= MAX_PRIOR_K for k in self.k.values()):
            raise ValueError(f"{self.feature}: k must be in (0, {MAX_PRIOR_K:g}]")
        return self


class RatingPlan(_Frozen):
    """A complete rating plan. Versions are assigned by the database when a plan is saved."""

    name: str
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    effective_from: datetime
    effective_to: datetime | None = None
    base_rates: list[BaseRate] = Field(min_length=1)
    factors: list[RatingFactor] = Field(default_factory=list)
    loadings: Loadings
    minimum_premium: float = Field(ge=0)
    cap: CapRule
    credibility: Credibility
    reference_annual_hours: float = Field(
        gt=0, description="operating hours a year at which the class reference premium is quoted"
    )
    minimum_annual_hours: float = Field(
        ge=0, description="floor of the projected hours: a silent robot is not a cheaper one"
    )
    usage_prior_hours: float = Field(
        default=168.0,
        ge=0,
        description="calendar hours at the reference utilisation blended into the projection",
    )
    rate_priors: list[RatePrior] = Field(
        default_factory=list,
        description="event rates estimated with credibility (rates a plan has no prior for "
        "are the raw count over max(exposure, 100 h))",
    )
    class_utilisation: dict[str, float] = Field(
        default_factory=dict,
        description="per robot class, the book's operating hours over calendar hours: what the "
        "hours projection blends toward (a class absent: reference_annual_hours / 8760)",
    )
    fit_report: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [factor.name for factor in self.factors]
        if len(set(names)) != len(names):
            raise ValueError("factor names must be unique")
        keys = [(rate.robot_class, rate.coverage) for rate in self.base_rates]
        if len(set(keys)) != len(keys):
            raise ValueError("one base rate per robot class and coverage")
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        features = [prior.feature for prior in self.rate_priors]
        if len(set(features)) != len(features):
            raise ValueError("one rate prior per feature")
        if any(not 0 < u <= 1 for u in self.class_utilisation.values()):
            raise ValueError("a class utilisation is a share of calendar hours, in (0, 1]")
        return self

    def utilisation_of(self, robot_class: str) -> float:
        """What the hours projection of a class blends toward (operating / calendar hours)."""
        return self.class_utilisation.get(robot_class, self.reference_annual_hours / HOURS_PER_YEAR)

    @property
    def robot_classes(self) -> list[str]:
        return sorted({rate.robot_class for rate in self.base_rates})

    def class_rates(self, robot_class: str) -> tuple[float, float]:
        """(base frequency summed over coverages, claim-weighted base severity) of a class."""
        rates = [rate for rate in self.base_rates if rate.robot_class == robot_class]
        if not rates:
            raise KeyError(f"the plan has no base rate for robot class {robot_class!r}")
        frequency = sum(rate.frequency for rate in rates)
        return frequency, sum(rate.rate for rate in rates) / frequency
