"""Bühlmann-Straub credibility: how far a robot's own claims move its premium off its class.

Experience is measured as actual over expected claims (A/E) with expected claims as the weight,
so that the structural parameter k is in expected claims, whatever the robot's size or class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_engine.kernels._types import FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class StructuralParameters:
    """Bühlmann-Straub estimates: mean, expected process variance (EPV), variance of
    hypothetical means (VHM), and k = EPV / VHM (infinite when the VHM is not positive)."""

    mean: float
    expected_process_variance: float
    variance_of_hypothetical_means: float

    @property
    def k(self) -> float:
        if self.variance_of_hypothetical_means <= 0.0:
            return float("inf")
        return self.expected_process_variance / self.variance_of_hypothetical_means


def credibility_weight(weight: FloatArray, k: FloatArray | float) -> FloatArray:
    """``Z = w / (w + k)`` (n,): 0 for no experience, towards 1 as experience grows."""
    return np.where(np.isinf(k), 0.0, weight / (weight + np.where(np.isinf(k), 1.0, k)))


def experience_modification(
    claim_count: FloatArray, expected_claims: FloatArray, k: FloatArray | float
) -> tuple[FloatArray, FloatArray]:
    """``(Z, mod)`` (n,) each: ``mod = Z * A/E + (1 - Z)`` with ``Z = E / (E + k)``.

    claim_count: actual claims A over the experience window; expected_claims: E, the claims the
    current rating expects over the same exposure. A robot with no expected claims gets mod 1.
    """
    z = credibility_weight(expected_claims, k)
    ratio = np.divide(
        claim_count, expected_claims, out=np.ones_like(claim_count), where=expected_claims > 0
    )
    return z, z * ratio + (1.0 - z)


def buhlmann_straub(group: IntArray, value: FloatArray, weight: FloatArray) -> StructuralParameters:
    """Non-parametric Bühlmann-Straub estimators (Bühlmann & Gisler 2005, sec. 4.8).

    group (N,) integer id of the risk (robot) of each observation; value (N,) X_ij (here A/E of
    a period); weight (N,) m_ij (expected claims of the period). Needs two or more risks, and
    some risk with two or more periods.
    """
    groups = int(group.max()) + 1
    m_i = np.bincount(group, weights=weight, minlength=groups)
    n_i = np.bincount(group, minlength=groups)
    present = n_i > 0
    mean_i = np.bincount(group, weights=weight * value, minlength=groups) / np.where(
        present, m_i, 1.0
    )
    dof = int((n_i[present] - 1).sum())
    risks = int(present.sum())
    if dof < 1 or risks < 2:
        raise ValueError("Bühlmann-Straub needs two risks and a risk observed twice")
    epv = float((weight * (value - mean_i[group]) ** 2).sum() / dof)
    m_i, mean_i = m_i[present], mean_i[present]
    m = float(m_i.sum())
    x_bar = float((m_i * mean_i).sum() / m)
    between = float((m_i * (mean_i - x_bar) ** 2).sum())
    vhm = (between - epv * (risks - 1)) / (m - float((m_i**2).sum()) / m)
    return StructuralParameters(x_bar, epv, float(vhm))
