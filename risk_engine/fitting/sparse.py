"""Sparse and claim-free levels of a fitted factor: flagged, and shrunk toward the base level.

Maximum likelihood gives a level without claims a log-relativity of minus infinity (the IRLS
stops somewhere near -17), and a level with three claims one as noisy as they are. Neither may
become a rate. Each categorical level and band (not the base) whose claims (frequency) or claim
count weights (severity) in the fitted rows are fewer than ``FULL_CREDIBILITY_CLAIMS`` gets
partial credibility ``Z = sqrt(claims / FULL_CREDIBILITY_CLAIMS)`` (limited-fluctuation
credibility with a full standard of 30 claims: the relative standard error of a Poisson count of
30 is 18 %), and its relativity becomes ``Z * fitted``: toward the base level, which carries the
most exposure; a claim-free level gets the base level's rate. Levels at or above the standard
are kept as fitted. Continuous factors are not touched (they borrow strength across values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from risk_engine.fitting.design import Design
from risk_engine.kernels._types import FloatArray

FULL_CREDIBILITY_CLAIMS = 30.0

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class SparseLevel:
    """A level the fit could not rate on its own: its claims, what the GLM gave, what is kept."""

    factor: str
    level: str
    claims: float
    fitted: float
    kept: float


def level_claims(design: Design, claims: FloatArray) -> dict[Key, float]:
    """Claims (or claim-count weights) of the rows in each dummy column of ``design``."""
    totals = design.matrix.T @ claims
    return {key: float(total) for key, total in zip(design.columns, totals, strict=True)}


def credible_coefficients(
    coefficients: Mapping[Key, float], claims: Mapping[Key, float], dummies: set[Key]
) -> tuple[dict[Key, float], list[SparseLevel]]:
    """The coefficients with the sparse dummy levels shrunk, and the levels shrunk."""
    kept = dict(coefficients)
    sparse = []
    for key in sorted(dummies):
        seen = claims.get(key, 0.0)
        if seen >= FULL_CREDIBILITY_CLAIMS:
            continue
        z = math.sqrt(max(seen, 0.0) / FULL_CREDIBILITY_CLAIMS)
        kept[key] = z * coefficients[key]
        sparse.append(SparseLevel(key[0], key[1], seen, coefficients[key], kept[key]))
    return kept, sparse
