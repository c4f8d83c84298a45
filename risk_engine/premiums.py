"""Premiums with reasons for a fleet's feature frame: pure, frames in and frame out.

Joins the claims experience and the previous period's premium to the features, runs
``score_fleet`` and lays the results out as rows to store (figures, and JSON texts of the
features, contributions and reasons)."""

from __future__ import annotations

import numpy as np
import polars as pl

from database.models.score import SCORE_FIGURES
from risk_engine.features.credible import credible_features
from risk_engine.features.rating import FEATURES
from risk_engine.plans.schema import RatingPlan
from risk_engine.scoring import (
    REASON_COUNT,
    CompiledFactors,
    FleetInputs,
    FleetScores,
    class_rates,
    class_utilisation,
    compile_factors,
    score_fleet,
)


class PlanDoesNotRateClassError(ValueError):
    """A robot's class has no base rate in the plan."""


def _previous_contributions(previous: pl.Series, names: tuple[str, ...]) -> np.ndarray:
    dtype = pl.Struct(dict.fromkeys(names, pl.Float64))
    decoded = previous.fill_null("{}").str.json_decode(dtype).struct.unnest()
    return decoded.fill_null(0.0).to_numpy().astype(np.float64).reshape(len(previous), len(names))


def fleet_inputs(plan: RatingPlan, factors: CompiledFactors, frame: pl.DataFrame) -> FleetInputs:
    """Arrays for ``score_fleet`` from a frame of features joined with experience and previous."""
    unknown = set(frame.get_column("robot_class").unique()) - set(plan.robot_classes)
    if unknown:
        raise PlanDoesNotRateClassError(f"the plan has no base rate for {sorted(unknown)}")
    robot_class = frame.get_column("robot_class")
    base_frequency, base_severity, k = class_rates(plan, robot_class)

    def column(name: str, default: float) -> np.ndarray:
        return frame.get_column(name).fill_null(default).cast(pl.Float64).to_numpy()

    return FleetInputs(
        base_frequency=base_frequency,
        base_severity=base_severity,
        credibility_k=k,
        prior_utilisation=class_utilisation(plan, robot_class),
        exposure_h=column("exposure_h", 0.0),
        elapsed_h=column("elapsed_h", 1.0),
        claim_count=column("claim_count", 0.0),
        experience_h=column("experience_h", 0.0),
        previous_premium=column("previous_premium", np.nan),
        previous_contributions=_previous_contributions(
            frame.get_column("previous_contributions"), factors.names
        ),
    )


def _reasons(scores: FleetScores, factors: CompiledFactors) -> pl.Expr:
    names = pl.Series(factors.names)
    texts = pl.Series(factors.reasons)
    slots = []
    for slot in range(REASON_COUNT):
        index = scores.reason_index[:, slot]
        safe = np.maximum(index, 0)
        reason = pl.struct(
            pl.lit(names.gather(safe)).alias("factor"),
            pl.lit(texts.gather(safe)).alias("reason"),
            pl.lit(pl.Series(scores.reason_delta[:, slot])).alias("log_change"),
        )
        slots.append(pl.when(pl.lit(pl.Series(index >= 0))).then(reason))
    return pl.concat_list(slots).list.drop_nulls()


def _json(expression: pl.Expr, key: str) -> pl.Expr:
    """A column's JSON text (structs and lists of structs) via a one-field wrapper object."""
    wrapped = pl.struct(expression.alias(key)).struct.json_encode()
    return wrapped.str.strip_prefix(f'{{"{key}":').str.strip_suffix("}")


def score_frame(
    plan: RatingPlan,
    features: pl.DataFrame,
    experience: pl.DataFrame,
    previous: pl.DataFrame,
) -> pl.DataFrame:
    """One row per robot of ``features``: robot_id, SCORE_FIGURES, and JSON texts features,
    contributions (log-scale, by factor) and reasons (up to four, largest increase first)."""
    frame = (
        credible_features(plan, features)
        .join(experience, on="robot_id", how="left", maintain_order="left")
        .join(previous, on="robot_id", how="left", maintain_order="left")
    )
    factors = compile_factors(plan, frame)
    scores = score_fleet(plan, factors, fleet_inputs(plan, factors, frame))
    figures = {name: getattr(scores, name) for name in SCORE_FIGURES if name != "credibility"}
    figures["credibility"] = scores.credibility
    contributions = pl.DataFrame(scores.contributions, schema=list(factors.names), orient="row")
    return frame.select(
        "robot_id",
        "robot_class",
        *(pl.lit(pl.Series(name, values)) for name, values in figures.items()),
        _json(pl.struct(*(f for f in FEATURES if f in frame.columns)), "v").alias("features"),
        _json(pl.struct(*(pl.lit(contributions.get_column(n)) for n in factors.names)), "v").alias(
            "contributions"
        ),
        _json(_reasons(scores, factors), "v").alias("reasons"),
    )
