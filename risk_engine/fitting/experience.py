"""The claims credibility constant k per robot class, estimated from a book of robot-periods.

Each robot's own claims move its premium by ``Z = E / (E + k)`` (``kernels.credibility``), with
E its expected claims. k is estimated per class with the Bühlmann-Straub estimators on the
robots' periods: ``X = claims / expected`` of the period, weighted by the expected claims of the
fitted frequency model; for a Poisson count around a gamma-distributed riskiness of mean 1 and
shape a, k = a. A class whose robots are not observed over two or more periods (or with fewer
than two such robots) keeps the default k, and the fit report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from risk_engine.fitting.priors import K_CAP
from risk_engine.kernels._types import FloatArray
from risk_engine.kernels.credibility import buhlmann_straub
from risk_engine.plans.schema import Credibility

DEFAULT_K = 8.0
"""k (expected claims) of a class the book cannot estimate it for: eight expected claims of a
robot's own record carry half the weight against its class."""

MIN_PERIODS = 2

FALLBACK_REASONS = {
    1.0: "fewer than two robots of the class observed over two or more periods",
    2.0: "no claim expected of the class's robots in the book",
}


@dataclass(frozen=True)
class ClassEstimate:
    """What the book said of one class: k, the robots and periods it used, and why a default
    was kept (``fallback`` 0 when k was estimated, else a key of FALLBACK_REASONS)."""

    robot_class: str
    k: float
    robots: int
    periods: int
    expected: float
    claims: float
    fallback: float = 0.0

    def report(self) -> dict[str, float]:
        prefix = f"credibility.{self.robot_class}"
        return {
            f"credibility.k.{self.robot_class}": self.k,
            f"{prefix}.robots": float(self.robots),
            f"{prefix}.periods": float(self.periods),
            f"{prefix}.expected_claims": self.expected,
            f"{prefix}.claims": self.claims,
            f"{prefix}.fallback": self.fallback,
        }


def _estimate(
    robot_class: str, risk: np.ndarray, claims: FloatArray, expected: FloatArray, default: float
) -> ClassEstimate:
    exposed = expected > 0
    risk, claims, expected = risk[exposed], claims[exposed], expected[exposed]
    if not exposed.any():
        return ClassEstimate(robot_class, default, 0, 0, 0.0, float(claims.sum()), 2.0)
    _, group, periods = np.unique(risk, return_inverse=True, return_counts=True)
    repeated = periods[group] >= MIN_PERIODS
    _, group = np.unique(group[repeated], return_inverse=True)
    robots = int(group.max()) + 1 if group.size else 0
    observed = ClassEstimate(
        robot_class,
        default,
        robots,
        int(repeated.sum()),
        float(expected[repeated].sum()),
        float(claims[repeated].sum()),
    )
    if robots < 2:
        return ClassEstimate(**{**observed.__dict__, "fallback": 1.0})
    ratio = claims[repeated] / expected[repeated]
    k = buhlmann_straub(group, ratio, expected[repeated]).k
    # No variation left between robots (VHM not positive) or more than the cap: the cap, the
    # least weight a robot's own record gets (as for the event priors, fitting/priors.py).
    return ClassEstimate(**{**observed.__dict__, "k": K_CAP if math.isinf(k) else min(k, K_CAP)})


def claims_credibility(
    book: pl.DataFrame,
    expected: FloatArray,
    *,
    risk: str,
    claims: str,
    base_variable: str | None,
    default: float = DEFAULT_K,
) -> tuple[Credibility, list[ClassEstimate]]:
    """k per level of ``base_variable`` (the robot class) from the rows of ``book`` (robot-periods:
    the risk's id in column ``risk``, the period's claims in ``claims``) and ``expected``, the
    claims the fitted frequency model expects of each row."""
    counts = book.get_column(claims).cast(pl.Float64).to_numpy()
    risks = book.get_column(risk).cast(pl.String).to_numpy()
    levels = (
        book.get_column(base_variable).cast(pl.String).to_numpy()
        if base_variable is not None
        else np.full(book.height, "all")
    )
    estimates = [
        _estimate(
            level,
            risks[levels == level],
            counts[levels == level],
            expected[levels == level],
            default,
        )
        for level in sorted(set(levels.tolist()))
    ]
    k = {e.robot_class: e.k for e in estimates}
    if base_variable is None:
        return Credibility(default_k=k.get("all", default)), estimates
    return Credibility(k=k, default_k=default), estimates
