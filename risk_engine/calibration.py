"""Calibration: the engine's technical premium against a fleet's true expected loss.

On a simulated fleet the truth is known: a robot of riskiness ``r`` has the features
``expected_features(r, hours)`` in the long run, and the plan holding the simulator's true
relativities (the starter plan) turns them into its true technical premium at the simulator's
utilisation. The engine sees only what the robots reported over a window of hours (simulated
rollups and events, folded and rated as in production) and prices them as new business.

``calibration_rows`` compares the two by window (mean log error, its spread, the mean squared
log error against the class rate's, total over total, Gini) and ``decile_rows`` by decile of the
predicted premium (actual over expected). On a real book, the truth is replaced by the claims
(see ``fit_command``). Pure: arrays and frames in, frames out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from risk_engine.features.rating import rating_features
from risk_engine.features.state import MetricRoles, fold_events, fold_rollups, merge_states
from risk_engine.fitting.priors import credible_rate_features, fit_priors
from risk_engine.kernels import pricing
from risk_engine.kernels._types import FloatArray
from risk_engine.kernels.lorenz import gini_index
from risk_engine.plans.default import ROBOT_CLASSES
from risk_engine.plans.schema import RatingPlan
from risk_engine.premiums import score_frame
from risk_engine.scoring import class_rates, class_utilisation, hazard
from risk_engine.simulate_telemetry import (
    SIMULATED_METRICS,
    event_frame,
    expected_features,
    rollup_frame,
    simulate_hours,
)

SIMULATED_UTILISATION = 0.7
WINDOWS_H = (8, 24, 72, 168, 720)
START = 1_767_225_600.0  # 2026-01-01 UTC
COMMISSIONED = START - 30 * 86_400.0  # within the maintenance interval, as the truth assumes
METRIC_IDS = {key: index + 1 for index, key in enumerate(SIMULATED_METRICS)}
ROLES = MetricRoles.from_catalogue((i, key.partition(".")[0]) for key, i in METRIC_IDS.items())
CHUNK_ROBOTS = 500

Riskiness = Callable[[np.random.Generator, int], FloatArray]


def uniform_riskiness(rng: np.random.Generator, robots: int) -> FloatArray:
    return rng.uniform(0.0, 1.0, robots)


def skewed_riskiness(rng: np.random.Generator, robots: int) -> FloatArray:
    """Mostly careful robots with a long tail of bad ones: Beta(1.5, 4), mean 0.27."""
    return rng.beta(1.5, 4.0, robots)


@dataclass(frozen=True)
class SimulatedFleet:
    """Robots (n,) with their riskiness and class: the book a calibration is measured on."""

    riskiness: FloatArray
    robot_class: pl.Series

    @classmethod
    def draw(cls, robots: int, seed: int, riskiness: Riskiness) -> SimulatedFleet:
        rng = np.random.default_rng(seed)
        classes = rng.choice(np.array(ROBOT_CLASSES), size=robots)
        return cls(riskiness(rng, robots), pl.Series("robot_class", classes))

    @property
    def robots(self) -> int:
        return self.riskiness.size


def observed_features(
    fleet: SimulatedFleet, hours: int, seed: int, start: float = START
) -> pl.DataFrame:
    """What the engine rates after ``hours`` hours of the fleet's telemetry from ``start``: the
    simulated rollups and events folded and turned into rating features, as in production, in
    chunks of robots (the rollup rows of a month of thousands of robots do not fit at once)."""
    buckets = start + 3600.0 * np.arange(hours, dtype=np.float64)
    parts = []
    for first in range(0, fleet.robots, CHUNK_ROBOTS):
        chunk = slice(first, min(first + CHUNK_ROBOTS, fleet.robots))
        ids = pl.Series("robot_id", np.arange(chunk.start, chunk.stop, dtype=np.int64))
        hourly = simulate_hours(
            fleet.riskiness[chunk], buckets, seed=seed * 7919 + first, utilisation=0.7
        )
        state = merge_states(
            fold_rollups(rollup_frame(hourly, ids, METRIC_IDS), ROLES, start),
            fold_events(event_frame(hourly, ids, seed=seed * 7919 + first)),
        )
        robots = pl.DataFrame(
            {
                "robot_id": ids,
                "robot_class": fleet.robot_class[chunk],
                "commissioned_at": np.full(ids.len(), COMMISSIONED),
                "tamper_flagged": np.zeros(ids.len(), dtype=bool),
            }
        )
        gaps = pl.DataFrame({"robot_id": ids, "data_gap_count": np.zeros(ids.len())})
        parts.append(
            rating_features(state, robots, gaps, period_start=start, as_of=start + 3600.0 * hours)
        )
    return pl.concat(parts)


BOOK_PERIODS_H = (24, 72, 168, 720)


def simulated_book(
    fleet: SimulatedFleet, periods: Sequence[int] = BOOK_PERIODS_H, seed: int = 1
) -> pl.DataFrame:
    """A book to fit rate priors on: each robot's features over several periods of telemetry
    (of the lengths given, one after another), a row per robot and period."""
    frames, start = [], START
    for index, hours in enumerate(periods):
        features = observed_features(fleet, hours, seed=seed * 100 + index, start=start)
        frames.append(features.with_columns(pl.lit(index).alias("period")))
        start += 3600.0 * hours
    return pl.concat(frames)


def with_fitted_priors(plan: RatingPlan, book: pl.DataFrame) -> RatingPlan:
    """``plan`` with rate priors and class utilisation fitted on ``book``."""
    variables = [factor.variable for factor in plan.factors]
    fitted = fit_priors(book, credible_rate_features(variables), plan.robot_classes)
    return plan.model_copy(
        update={
            "rate_priors": fitted.priors,
            "class_utilisation": fitted.class_utilisation,
            "fit_report": {**plan.fit_report, **fitted.report},
        }
    )


def true_premium(truth: RatingPlan, fleet: SimulatedFleet, hours: float) -> FloatArray:
    """Each robot's true technical premium (n,): the truth plan's hazard at the features its
    riskiness implies over ``hours`` hours, at the simulator's utilisation, uncapped."""
    rows = [expected_features(float(r), hours) for r in fleet.riskiness]
    frame = pl.DataFrame(rows).with_columns(fleet.robot_class)
    return _technical(truth, frame, np.full(fleet.robots, 8760.0 * SIMULATED_UTILISATION))


def class_rate(plan: RatingPlan, robot_class: pl.Series) -> FloatArray:
    """The class reference premium (n,): what a robot is quoted without telemetry."""
    frequency, severity, _ = class_rates(plan, robot_class)
    hours = pricing.HOURS_PER_YEAR * class_utilisation(plan, robot_class)
    premium: FloatArray = frequency * severity * hours / 1000.0 * plan.loadings.multiplier
    return premium


def technical_premium(plan: RatingPlan, features: pl.DataFrame) -> FloatArray:
    """The engine's technical premium (n,) of new business (no premium in force, no claims)."""
    empty = pl.DataFrame(
        {"robot_id": features.get_column("robot_id").head(0)},
        schema={"robot_id": features.schema["robot_id"]},
    )
    scored = score_frame(
        plan,
        features,
        empty.with_columns(
            pl.lit(None, pl.Float64).alias("claim_count"),
            pl.lit(None, pl.Float64).alias("experience_h"),
        ),
        empty.with_columns(
            pl.lit(None, pl.Float64).alias("previous_premium"),
            pl.lit(None, pl.String).alias("previous_contributions"),
        ),
    )
    return scored.get_column("technical_premium").to_numpy()


def _technical(plan: RatingPlan, frame: pl.DataFrame, hours: FloatArray) -> FloatArray:
    frequency, severity = hazard(plan, frame)
    return pricing.pure_premium(frequency, severity, hours) * plan.loadings.multiplier


def _mean(column: pl.Series) -> float:
    mean = column.mean()
    return float(mean) if isinstance(mean, int | float) else 0.0


@dataclass(frozen=True)
class WindowResult:
    """One window's comparison (each array (n,) over the fleet's robots)."""

    hours: int
    observed_operating_h: float
    technical: FloatArray
    truth: FloatArray
    class_rate: FloatArray


def measure(
    plan: RatingPlan,
    truth: RatingPlan,
    fleet: SimulatedFleet,
    windows: Sequence[int] = WINDOWS_H,
    seed: int = 0,
) -> list[WindowResult]:
    """The plan's technical premiums after each window of telemetry, beside the truth."""
    results = []
    for hours in windows:
        features = observed_features(fleet, hours, seed=seed + hours)
        results.append(
            WindowResult(
                hours,
                _mean(features.get_column("exposure_h")),
                technical_premium(plan, features),
                true_premium(truth, fleet, hours),
                class_rate(plan, fleet.robot_class),
            )
        )
    return results


def calibration_rows(results: Sequence[WindowResult]) -> pl.DataFrame:
    """By window: mean and spread of log(technical / true), mean squared log error (and the
    class rate's), total technical over total true, Gini of the technical premium's ranking
    of the true losses (and the truth's own, the ceiling)."""
    rows = []
    for result in results:
        error = np.log(result.technical / result.truth)
        class_error = np.log(result.class_rate / result.truth)
        ones = np.ones_like(result.truth)
        rows.append(
            {
                "hours": result.hours,
                "operating_hours": result.observed_operating_h,
                "mean_log_error": float(error.mean()),
                "spread": float(error.std()),
                "mean_squared_log_error": float((error**2).mean()),
                "class_rate_mean_squared_log_error": float((class_error**2).mean()),
                "total_ratio": float(result.technical.sum() / result.truth.sum()),
                "gini": gini_index(result.technical, result.truth, ones),
                "gini_ceiling": gini_index(result.truth, result.truth, ones),
            }
        )
    return pl.DataFrame(rows)


def decile_rows(result: WindowResult, deciles: int = 10) -> pl.DataFrame:
    """By decile of the predicted (technical) premium: robots, mean predicted, actual over
    expected (true over technical), mean log error."""
    order = np.argsort(result.technical, kind="stable")
    rows = []
    for decile, members in enumerate(np.array_split(order, deciles), start=1):
        technical, truth = result.technical[members], result.truth[members]
        rows.append(
            {
                "decile": decile,
                "robots": int(members.size),
                "mean_predicted": float(technical.mean()),
                "actual_over_expected": float(truth.sum() / technical.sum()),
                "mean_log_error": float(np.log(technical / truth).mean()),
            }
        )
    return pl.DataFrame(rows)
