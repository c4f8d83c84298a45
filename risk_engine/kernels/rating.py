"""Rating factors as log-relativities: one column of a multiplicative (log-link) rating plan.

A factor maps a robot's feature value to ``log(relativity)``; the plan multiplies relativities,
so contributions add on the log scale and decompose the premium exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from risk_engine.kernels._types import FloatArray, IntArray

Transform = Literal["identity", "log1p"]


def banded_log_relativity(
    values: FloatArray, breaks: FloatArray, log_relativities: FloatArray
) -> FloatArray:
    """Band ``values`` (n,) at ``breaks`` (B,), ascending; band b is ``breaks[b-1] <= x <
    breaks[b]``. Returns ``log_relativities[band]`` (n,), where ``log_relativities`` is (B+1,)."""
    bands = np.searchsorted(breaks, values, side="right")
    return np.asarray(log_relativities, dtype=np.float64)[bands]


def continuous_log_relativity(
    values: FloatArray,
    coefficient: float,
    *,
    reference: float = 0.0,
    lower: float = -np.inf,
    upper: float = np.inf,
    transform: Transform = "identity",
) -> FloatArray:
    """``coefficient * (g(clip(x, lower, upper)) - g(reference))`` (n,): a GLM slope on the log
    scale, with g the identity or log1p, so that the reference value has relativity 1."""
    clipped: FloatArray = np.clip(values, lower, upper)
    if transform == "log1p":
        shifted: FloatArray = np.log1p(clipped) - np.log1p(reference)
        return coefficient * shifted
    return coefficient * (clipped - reference)


def categorical_log_relativity(codes: IntArray, log_relativities: FloatArray) -> FloatArray:
    """``log_relativities[code]`` (n,) for level codes (n,); code -1 (a level the plan does not
    know) rates as the base level, relativity 1."""
    table = np.append(np.asarray(log_relativities, dtype=np.float64), 0.0)
    picked: FloatArray = table[np.where(codes < 0, len(table) - 1, codes)]
    return picked
