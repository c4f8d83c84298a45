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
    values: FloatArray,
    breaks: FloatArray,
    log_relativities: FloatArray,
    out: FloatArray | None = None,
) -> FloatArray:
    """Band ``values`` (n,) at ``breaks`` (B,), ascending; band b is ``breaks[b-1] <= x <
    breaks[b]``. Returns ``log_relativities[band]`` (n,), where ``log_relativities`` is (B+1,),
    into ``out`` if given. NaN falls in the last band (as ``np.searchsorted`` places it).

    A cascade of masked copies from the last band down (a handful of breaks: cheaper than a
    binary search per value): each value ends with the first band whose upper break exceeds it.
    """
    table = np.asarray(log_relativities, dtype=np.float64)
    result = np.empty(values.shape) if out is None else out
    result.fill(table[-1])
    below = np.empty(values.shape, dtype=bool)
    for band in range(len(breaks) - 1, -1, -1):
        np.less(values, breaks[band], out=below)
        np.copyto(result, table[band], where=below)
    return result


def continuous_log_relativity(
    values: FloatArray,
    coefficient: float,
    *,
    reference: float = 0.0,
    lower: float = -np.inf,
    upper: float = np.inf,
    transform: Transform = "identity",
    out: FloatArray | None = None,
) -> FloatArray:
    """``coefficient * (g(clip(x, lower, upper)) - g(reference))`` (n,): a GLM slope on the log
    scale, with g the identity or log1p, so that the reference value has relativity 1. Written
    into ``out`` if given (it may be ``values`` itself)."""
    result = np.empty(values.shape) if out is None else out
    np.clip(values, lower, upper, out=result)
    if transform == "log1p":
        np.log1p(result, out=result)
        result -= np.log1p(reference)
    else:
        result -= reference
    result *= coefficient
    return result


def categorical_log_relativity(codes: IntArray, log_relativities: FloatArray) -> FloatArray:
    """``log_relativities[code]`` (n,) for level codes (n,); code -1 (a level the plan does not
    know) rates as the base level, relativity 1."""
    table = np.append(np.asarray(log_relativities, dtype=np.float64), 0.0)
    picked: FloatArray = table[np.where(codes < 0, len(table) - 1, codes)]
    return picked
