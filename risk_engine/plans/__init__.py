"""Rating plans as data: versioned, effective-dated, approved before use."""

from risk_engine.plans.schema import (
    BaseRate,
    CapRule,
    Credibility,
    Loadings,
    PlanStatus,
    RatingFactor,
    RatingPlan,
)

__all__ = [
    "BaseRate",
    "CapRule",
    "Credibility",
    "Loadings",
    "PlanStatus",
    "RatingFactor",
    "RatingPlan",
]
