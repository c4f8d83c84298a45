"""Chain ladder with Mack's standard errors, on a cumulative claims triangle. Pure numpy.

The triangle ``C`` has accident periods as rows and development periods as columns, ``NaN``
where not yet observed (below the latest diagonal). Mack (1993), "Distribution-free
calculation of the standard error of chain ladder reserve estimates":

* development factors ``f_k = sum_i C[i, k+1] / sum_i C[i, k]`` over the rows that know both;
* ``sigma2_k = 1 / (n_k - 1) * sum_i C[i, k] * (C[i, k+1] / C[i, k] - f_k)^2``; the last one,
  with a single observation, is Mack's extrapolation ``min(s4 / s3, s3, s4)`` of the two
  before (``s3``, ``s4`` the squares of the third and second to last);
* the ultimate of a row is its latest value times the factors after it; IBNR = ultimate -
  latest;
* ``mse(R_i) = U_i^2 * sum_k sigma2_k / f_k^2 * (1 / C^[i, k] + 1 / S_k)`` over the development
  periods after the row's latest, ``C^`` the projected cumulative values and ``S_k`` the sum of
  the observed ``C[j, k]`` of the rows that have ``k + 1``; the total adds the covariances
  ``2 * U_i * sum_{j>i} U_j * sum_k sigma2_k / f_k^2 / S_k``.

On the RAA triangle this gives a total IBNR of 52,135 and a total standard error of 26,909, as
the chainladder package (with Mack's extrapolation) and R's ChainLadder do (tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Reserve:
    factors: FloatArray  # f_k, k = 0 .. n-2
    sigma2: FloatArray  # sigma^2_k
    latest: FloatArray  # per accident period
    ultimate: FloatArray
    ibnr: FloatArray
    std_err: FloatArray  # Mack's, per accident period
    total_std_err: float

    @property
    def total_ibnr(self) -> float:
        return float(self.ibnr.sum())


def _latest(triangle: FloatArray) -> tuple[FloatArray, NDArray[np.int64]]:
    known = ~np.isnan(triangle)
    last = np.where(known.any(axis=1), known.shape[1] - 1 - np.argmax(known[:, ::-1], axis=1), -1)
    rows = np.arange(triangle.shape[0])
    latest = np.where(last >= 0, triangle[rows, np.maximum(last, 0)], 0.0)
    return latest, last


def development(c: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(f_k, sigma2_k, S_k) of a cumulative triangle."""
    n_dev = c.shape[1]
    factors, sigma2, sums = np.ones(n_dev - 1), np.zeros(n_dev - 1), np.zeros(n_dev - 1)
    for k in range(n_dev - 1):
        both = ~np.isnan(c[:, k]) & ~np.isnan(c[:, k + 1]) & (c[:, k] > 0)
        if not both.any():
            continue
        sums[k] = c[both, k].sum()
        factors[k] = c[both, k + 1].sum() / sums[k]
        if both.sum() > 1:
            ratios = c[both, k + 1] / c[both, k]
            sigma2[k] = (c[both, k] * (ratios - factors[k]) ** 2).sum() / (both.sum() - 1)
        elif k >= 2:  # Mack's extrapolation of the last sigma^2
            s3, s4 = sigma2[k - 2], sigma2[k - 1]
            sigma2[k] = min(s4 * s4 / s3 if s3 > 0 else 0.0, s3, s4)
    return factors, sigma2, sums


def _projected(latest: FloatArray, last: NDArray[np.int64], factors: FloatArray) -> FloatArray:
    """Each row's cumulative values from its latest on, developed by the factors."""
    n_rows, n_dev = latest.shape[0], factors.shape[0] + 1
    projected = np.zeros((n_rows, n_dev))
    for i in np.flatnonzero(last >= 0):
        projected[i, last[i]] = latest[i]
        for k in range(last[i], n_dev - 1):
            projected[i, k + 1] = projected[i, k] * factors[k]
    return projected


def chain_ladder(triangle: FloatArray) -> Reserve:
    c = np.asarray(triangle, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] < 2:
        raise ValueError("a triangle needs two development periods or more")
    factors, sigma2, sums = development(c)
    latest, last = _latest(c)
    projected = _projected(latest, last, factors)
    rows = [i for i in range(c.shape[0]) if last[i] >= 0]
    ultimate = latest.copy()
    ultimate[rows] = projected[rows, -1]
    weights = np.divide(sigma2, factors**2, out=np.zeros_like(sigma2), where=sums > 0)
    inverse_sums = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    std_err = np.zeros(c.shape[0])
    covariance = 0.0
    for i in rows:
        ks = [k for k in range(last[i], c.shape[1] - 1) if projected[i, k] > 0]
        total = sum(weights[k] * (1.0 / projected[i, k] + inverse_sums[k]) for k in ks)
        std_err[i] = ultimate[i] * np.sqrt(total)
        later = sum(ultimate[j] for j in rows if j > i)
        covariance += ultimate[i] * later * sum(2.0 * weights[k] * inverse_sums[k] for k in ks)
    return Reserve(
        factors=factors,
        sigma2=sigma2,
        latest=latest,
        ultimate=ultimate,
        ibnr=ultimate - latest,
        std_err=std_err,
        total_std_err=float(np.sqrt((std_err**2).sum() + covariance)),
    )
