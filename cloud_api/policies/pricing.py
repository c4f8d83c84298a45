"""Quote lines from the risk engine's premiums: pure, no database.

A robot's annual premium is its latest score's (the rating plan's capped premium, with its
reasons), or, for a robot without telemetry yet, its class's reference premium: the class's
base rates at the hours the class operates, loaded as the plan loads every premium, and at
least the plan's minimum. The plan's factors scale every coverage's frequency and severity
alike, so a coverage's share of a robot's premium is its share of the class's base rate.
The premium for the term is the annual premium times the term's days over 365; it becomes
money once, per line, by ``money.to_minor`` (half to even). Tax is on the quote's total.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloud_api.ledger.money import to_minor
from cloud_api.policies.schemas import LineSource
from cloud_api.products.schemas import CoverageTerms
from risk_engine.kernels.pricing import HOURS_PER_YEAR
from risk_engine.plans.schema import RatingPlan

DAYS_PER_YEAR = 365


class UnratedCoverageError(ValueError):
    """A coverage's plan coverage has no base rate for a robot's class."""


@dataclass(frozen=True)
class RobotToPrice:
    robot_id: uuid.UUID
    robot_class: str
    score: Mapping[str, Any] | None  # the latest risk_scores row, by column


@dataclass(frozen=True)
class PricedLine:
    robot_id: uuid.UUID
    coverage: str
    premium_minor: int
    rated_premium: float
    source: LineSource
    score_id: int | None
    explanation: dict[str, Any]


def reference_premium(plan: RatingPlan, robot_class: str) -> float:
    """A robot of this class without telemetry: the class's base rates at its hours, loaded."""
    rate = sum(r.rate for r in plan.base_rates if r.robot_class == robot_class)
    hours = plan.utilisation_of(robot_class) * HOURS_PER_YEAR
    return max(rate * hours / 1000.0 * plan.loadings.multiplier, plan.minimum_premium)


def coverage_shares(plan: RatingPlan, robot_class: str) -> dict[str, float]:
    """The plan's coverages' shares of this class's base rate (they sum to 1)."""
    rates = {r.coverage: r.rate for r in plan.base_rates if r.robot_class == robot_class}
    total = sum(rates.values())
    if total <= 0:
        raise UnratedCoverageError(f"the plan has no base rate for {robot_class!r}")
    return {coverage: rate / total for coverage, rate in rates.items()}


def price_lines(
    plan: RatingPlan,
    plan_version: int,
    *,
    robots: Sequence[RobotToPrice],
    coverages: Sequence[CoverageTerms],
    term_days: int,
    currency: str,
) -> list[PricedLine]:
    """One line per robot and coverage, in minor units of ``currency``."""
    lines: list[PricedLine] = []
    term_share = term_days / DAYS_PER_YEAR
    by_class: dict[str, dict[str, float]] = {}
    for robot in robots:
        shares = by_class.get(robot.robot_class)
        if shares is None:
            shares = by_class[robot.robot_class] = coverage_shares(plan, robot.robot_class)
        if robot.score is None:
            annual = reference_premium(plan, robot.robot_class)
            source, score_id, evidence = LineSource.CLASS_REFERENCE, None, _reference(robot)
        else:
            annual = float(robot.score["premium"])
            source, score_id, evidence = LineSource.SCORE, int(robot.score["id"]), _scored(robot)
        for coverage in coverages:
            share = shares.get(coverage.plan_coverage)
            if share is None:
                raise UnratedCoverageError(
                    f"the plan rates no {coverage.plan_coverage!r} for {robot.robot_class!r}"
                )
            rated = annual * share * term_share
            lines.append(
                PricedLine(
                    robot_id=robot.robot_id,
                    coverage=coverage.code,
                    premium_minor=to_minor(rated, currency),
                    rated_premium=rated,
                    source=source,
                    score_id=score_id,
                    explanation={
                        **evidence,
                        "plan_version": plan_version,
                        "annual_premium": annual,
                        "coverage_share": share,
                        "term_days": term_days,
                        "rounding": "term premium rounded half to even to the minor unit, once",
                    },
                )
            )
    return lines


def _scored(robot: RobotToPrice) -> dict[str, Any]:
    score = robot.score
    assert score is not None  # noqa: S101 - called for scored robots only
    return {
        "basis": "the robot's latest risk score",
        "scored_at": score["scored_at"].isoformat(),
        "score_plan_version": score["plan_version"],
        "technical_premium": score["technical_premium"],
        "reasons": score["reasons"],
    }


def _reference(robot: RobotToPrice) -> dict[str, Any]:
    return {
        "basis": f"no telemetry yet: the {robot.robot_class} class's reference premium",
        "reasons": [],
    }
