"""Frequency and severity GLMs with glum, unpenalised (alpha = 0): maximum likelihood, as a
regulator expects and as statsmodels computes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from glum import GeneralizedLinearRegressor  # type: ignore[import-untyped]

from risk_engine.kernels._types import FloatArray

Family = Literal["poisson", "gamma"]


@dataclass(frozen=True)
class GlmFit:
    """intercept and coefficients (p,) on the log scale, with the family fitted."""

    family: Family
    intercept: float
    coefficients: FloatArray

    def linear_predictor(self, matrix: FloatArray, offset: FloatArray | None = None) -> FloatArray:
        eta = self.intercept + matrix @ self.coefficients
        return eta if offset is None else eta + offset

    def predict(self, matrix: FloatArray, offset: FloatArray | None = None) -> FloatArray:
        return np.exp(self.linear_predictor(matrix, offset))


def fit_glm(
    family: Family,
    matrix: FloatArray,
    response: FloatArray,
    *,
    offset: FloatArray | None = None,
    weight: FloatArray | None = None,
) -> GlmFit:
    """A log-link GLM by IRLS to a tight gradient tolerance.

    Poisson: response = claim counts (n,), offset = log(exposure) (n,). Gamma: response =
    average claim amount (n,), weight = claim counts (the variance weights).
    """
    model = GeneralizedLinearRegressor(
        family=family,
        link="log",
        alpha=0.0,
        fit_intercept=True,
        solver="irls-cd",
        gradient_tol=1e-10,
        max_iter=500,
    )
    model.fit(matrix, response, sample_weight=weight, offset=offset)
    coefficients = np.asarray(model.coef_, dtype=np.float64)
    return GlmFit(family, float(model.intercept_), coefficients)
