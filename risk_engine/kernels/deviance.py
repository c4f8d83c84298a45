"""Unit deviances summed with weights: how far predictions are from outcomes under a GLM family."""

from __future__ import annotations

import numpy as np

from risk_engine.kernels._types import FloatArray


def poisson_deviance(observed: FloatArray, predicted: FloatArray) -> float:
    """``2 * sum(y log(y / mu) - (y - mu))`` with ``0 log 0 = 0``; counts (n,), means (n,)."""
    ratio = np.divide(observed, predicted, out=np.ones_like(observed), where=observed > 0)
    return float(2.0 * np.sum(observed * np.log(ratio) - (observed - predicted)))


def gamma_deviance(
    observed: FloatArray, predicted: FloatArray, weight: FloatArray | None = None
) -> float:
    """``2 * sum(w * (-log(y / mu) + (y - mu) / mu))``; positive amounts (n,)."""
    unit = -np.log(observed / predicted) + (observed - predicted) / predicted
    w = np.ones_like(observed) if weight is None else weight
    return float(2.0 * np.sum(w * unit))
