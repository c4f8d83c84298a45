"""A simulated fleet with known hazards: does a fitted plan rank robots as the truth does?

Features are drawn per robot; the true claim frequency and severity are the starter plan's
(risk_engine.plans.default), so a fit on the simulated claims can be compared with the truth.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from risk_engine.plans.default import ROBOT_CLASSES, starter_plan
from risk_engine.scoring import hazard

_EPOCH = np.datetime64("2026-01-01T00:00:00")


def simulate_features(robots: int, seed: int = 0) -> pl.DataFrame:
    """One row per robot: robot_id, robot_class, the plan's features and exposure_h (hours)."""
    rng = np.random.default_rng(seed)
    robot_class = rng.choice(np.array(ROBOT_CLASSES), size=robots)
    mobile = robot_class == "mobile_robot"
    overdue = rng.random(robots) < 0.3
    gappy = rng.random(robots) < 0.15
    return pl.DataFrame(
        {
            "robot_id": [f"sim-{i:07d}" for i in range(robots)],
            "robot_class": robot_class,
            "exposure_h": rng.uniform(500.0, 6000.0, robots),
            "collision_rate": rng.gamma(0.8, 2.0, robots),
            "protective_stop_rate": rng.gamma(1.2, 20.0, robots),
            "emergency_stop_rate": rng.gamma(0.5, 3.0, robots),
            "thermal_stress": rng.beta(0.6, 12.0, robots),
            "fault_rate_critical": rng.gamma(0.4, 2.0, robots),
            "battery_soh_trend": np.where(mobile, np.minimum(rng.normal(-3, 3, robots), 0), 0.0),
            "maintenance_overdue_days": np.where(overdue, rng.exponential(40.0, robots), 0.0),
            "missing_data_share": np.where(gappy, rng.beta(1.0, 8.0, robots), 0.0),
            "data_gap_count": rng.poisson(0.3, robots).astype(np.float64),
            "tamper_flag": (rng.random(robots) < 0.02).astype(np.float64),
            "vibration_level": rng.gamma(4.0, 0.6, robots),
        }
    )


def simulate_claims(features: pl.DataFrame, seed: int = 1) -> pl.DataFrame:
    """``features`` with true_frequency (claims per 1,000 h), true_severity (per claim),
    claim_count and incurred (currency), drawn from the starter plan's hazards."""
    rng = np.random.default_rng(seed)
    plan = starter_plan(_EPOCH.astype("datetime64[us]").item())
    frequency, severity = hazard(plan, features)
    exposure = features.get_column("exposure_h").to_numpy()
    claims = rng.poisson(frequency * exposure / 1000.0)
    shape = 2.0
    incurred = np.where(claims > 0, rng.gamma(shape * np.maximum(claims, 1), severity / shape), 0.0)
    return features.with_columns(
        pl.Series("true_frequency", frequency),
        pl.Series("true_severity", severity),
        pl.Series("claim_count", claims.astype(np.float64)),
        pl.Series("incurred", incurred),
    )
