"""Exposure-weighted ordered Lorenz curve and Gini index of a rating (Frees, Meyers and Cummings,
2011): how well predictions rank risks, whatever their level."""

from __future__ import annotations

import numpy as np

from risk_engine.kernels._types import FloatArray


def ordered_lorenz(
    predicted: FloatArray, observed: FloatArray, exposure: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Sort risks by predicted rate, ascending; return (x, y) (n+1,) each, starting at (0, 0):
    x the cumulative share of exposure, y the cumulative share of observed losses (or claims)."""
    order = np.argsort(predicted, kind="stable")
    x = np.concatenate(([0.0], np.cumsum(exposure[order])))
    y = np.concatenate(([0.0], np.cumsum(observed[order])))
    return x / x[-1], y / y[-1]


def gini_index(predicted: FloatArray, observed: FloatArray, exposure: FloatArray) -> float:
    """``1 - 2 * area under the ordered Lorenz curve`` (trapezoids): 0 for a rating that ranks
    no better than chance, larger when the predicted worst risks carry more of the losses."""
    x, y = ordered_lorenz(predicted, observed, exposure)
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))
    return 1.0 - 2.0 * area
