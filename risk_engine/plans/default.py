"""The robot fleet's rating variables, and a starter plan to rate with before any fit.

The starter plan's relativities are the simulated fleet's true hazards (risk_engine.simulate):
an illustration to run the pipeline end to end, not a filed rate.

``TRUE_BASE_RATES`` are the hazards with every factor at 0, a robot no simulated robot is. The
starter plan quotes its base rates instead at the features a typical robot of the simulated fleet
reports (``risk_engine.simulate_telemetry.expected_features`` at ``TYPICAL_RISKINESS``): each
continuous factor's reference is moved there and the base rates carry the relativity of that
point. The hazard of every robot is unchanged; the class reference premium (what new business is
capped against) is then the expected loss of a typical robot, not of a robot that never stops.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

from risk_engine.plans.schema import (
    BaseRate,
    CapRule,
    Credibility,
    Loadings,
    RatePrior,
    RatingFactor,
    RatingPlan,
)
from risk_engine.plans.structure import FactorSpec
from risk_engine.simulate_telemetry import expected_features

ROBOT_CLASSES = ("industrial_arm", "cobot", "mobile_robot")
COVERAGES = ("machinery_breakdown", "third_party_liability")


def _spec(name: str, target: str, reason: str, **shape: object) -> FactorSpec:
    return FactorSpec.model_validate(
        {
            "name": name,
            "variable": shape.pop("variable", name),
            "target": target,
            "kind": shape.pop("kind", "continuous"),
            "reason": reason,
            **shape,
        }
    )


ROBOT_FACTORS: tuple[FactorSpec, ...] = (
    _spec(
        "collision_rate",
        "frequency",
        "More collisions per 1,000 operating hours",
        transform="log1p",
        upper=50.0,
    ),
    _spec(
        "protective_stop_rate",
        "frequency",
        "More protective stops per 1,000 operating hours",
        transform="log1p",
        upper=500.0,
    ),
    _spec(
        "emergency_stop_rate",
        "frequency",
        "More emergency stops per 1,000 operating hours",
        transform="log1p",
        upper=100.0,
    ),
    _spec("thermal_stress", "frequency", "More time above temperature limits", upper=1.0),
    _spec(
        "fault_rate_critical",
        "frequency",
        "More critical faults per 1,000 operating hours",
        transform="log1p",
        upper=50.0,
    ),
    _spec("battery_soh_trend", "frequency", "Faster battery wear", lower=-20.0, upper=0.0),
    _spec(
        "maintenance_overdue_days",
        "frequency",
        "Maintenance overdue",
        kind="banded",
        breaks=[1.0, 30.0, 90.0],
    ),
    _spec(
        "missing_data_share",
        "frequency",
        "Operating hours without telemetry",
        upper=1.0,
        adverse_only=True,
    ),
    _spec(
        "data_gap_count",
        "frequency",
        "Unfilled gaps in the robot's reported data",
        transform="log1p",
        upper=100.0,
        adverse_only=True,
    ),
    _spec(
        "tamper_flag",
        "frequency",
        "The robot's data chain was broken (possible tampering)",
        adverse_only=True,
    ),
    _spec(
        "vibration_level",
        "severity",
        "Higher vibration level",
        lower=0.0,
        upper=20.0,
        reference=2.0,
    ),
)

# Log-scale relativities of the simulated fleet's true hazard (coefficients; bands for banded).
TRUE_COEFFICIENTS: dict[str, float | list[float]] = {
    "collision_rate": 0.35,
    "protective_stop_rate": 0.12,
    "emergency_stop_rate": 0.2,
    "thermal_stress": 1.5,
    "fault_rate_critical": 0.3,
    "battery_soh_trend": -0.04,
    "maintenance_overdue_days": [0.0, 0.1, 0.25, 0.45],
    "missing_data_share": 0.8,
    "data_gap_count": 0.1,
    "tamper_flag": 0.5,
    "vibration_level": 0.08,
}
# (claims per 1,000 h, currency per claim) with every factor at 0, per class and coverage.
TRUE_BASE_RATES: dict[tuple[str, str], tuple[float, float]] = {
    ("industrial_arm", "machinery_breakdown"): (0.06, 9_000.0),
    ("industrial_arm", "third_party_liability"): (0.01, 40_000.0),
    ("cobot", "machinery_breakdown"): (0.05, 6_000.0),
    ("cobot", "third_party_liability"): (0.015, 30_000.0),
    ("mobile_robot", "machinery_breakdown"): (0.08, 5_000.0),
    ("mobile_robot", "third_party_liability"): (0.02, 25_000.0),
}


# The riskiness (risk_engine.simulate_telemetry) of the robot the starter plan's base rates quote.
TYPICAL_RISKINESS = 0.2


def factor_from_spec(
    spec: FactorSpec, value: float | list[float] | dict[str, float]
) -> RatingFactor:
    """A plan factor: the spec's shape with fitted (or chosen) numbers."""
    numbers: dict[str, object] = {}
    if spec.kind == "banded":
        numbers["band_log_relativities"] = value
    elif spec.kind == "categorical":
        numbers["levels"] = value
    else:
        numbers["coefficient"] = value
    return RatingFactor.model_validate({**spec.model_dump(), **numbers})


def rebased(factor: RatingFactor, value: float) -> tuple[RatingFactor, float]:
    """A continuous factor with its reference moved to ``value`` (clipped to its bounds), and the
    old factor's log-relativity there, for the base rates to carry; other factors unchanged, 0."""
    if factor.kind != "continuous" or factor.adverse_only:
        return factor, 0.0
    lower = -math.inf if factor.lower is None else factor.lower
    upper = math.inf if factor.upper is None else factor.upper
    reference = min(max(value, lower), upper)
    g = math.log1p if factor.transform == "log1p" else float
    shift = factor.coefficient * (g(reference) - g(factor.reference))
    return factor.model_copy(update={"reference": reference}), shift


STARTER_PRIORS = Path(__file__).with_name("starter_priors.json")


def starter_plan(effective_from: datetime, *, with_priors: bool = True) -> RatingPlan:
    """A complete plan with the simulated fleet's true relativities and typical loadings, its
    base rates quoted at a typical simulated robot (see the module docstring); with the rate
    priors and class utilisation fitted on a simulated book (``starter_priors.py``)."""
    typical = expected_features(TYPICAL_RISKINESS)
    factors, shift = [], {"frequency": 0.0, "severity": 0.0}
    for spec in ROBOT_FACTORS:
        factor, log_relativity = rebased(
            factor_from_spec(spec, TRUE_COEFFICIENTS[spec.name]), typical[spec.variable]
        )
        factors.append(factor)
        shift[factor.target] += log_relativity
    frequency, severity = math.exp(shift["frequency"]), math.exp(shift["severity"])
    stored = json.loads(STARTER_PRIORS.read_text()) if with_priors else {}
    return RatingPlan(
        name="starter plan (simulated hazards)",
        effective_from=effective_from,
        base_rates=[
            BaseRate(robot_class=k, coverage=c, frequency=f * frequency, severity=s * severity)
            for (k, c), (f, s) in TRUE_BASE_RATES.items()
        ],
        factors=factors,
        loadings=Loadings(expense_ratio=0.25, profit_margin=0.05, risk_margin=0.03),
        minimum_premium=150.0,
        cap=CapRule(max_increase=0.25, max_decrease=0.25),
        credibility=Credibility(default_k=8.0),
        reference_annual_hours=4000.0,
        minimum_annual_hours=500.0,
        rate_priors=[RatePrior.model_validate(p) for p in stored.get("rate_priors", [])],
        class_utilisation=stored.get("class_utilisation", {}),
    )
