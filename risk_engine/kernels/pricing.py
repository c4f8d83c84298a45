"""From rating factors to the charged premium: frequency, severity, pure, technical, capped.

Units: frequency in claims per 1,000 operating hours; severity in currency per claim; hours per
year; premiums in currency per year. Every array is (n,) over robots unless stated.
"""

from __future__ import annotations

import numpy as np

from risk_engine.kernels._types import BoolArray, FloatArray


def _log_sum(log_relativities: FloatArray, selected: BoolArray) -> FloatArray:
    """Row sums (n,) of the selected columns of ``log_relativities`` (n, F), column by column
    (contiguous passes when the matrix is column-major, as ``compile_factors`` builds it)."""
    total = np.zeros(log_relativities.shape[0])
    for column in np.flatnonzero(selected):
        total += log_relativities[:, column]
    return total


def expected_frequency(
    base_frequency: FloatArray, log_relativities: FloatArray, frequency_factors: BoolArray
) -> FloatArray:
    """``base * exp(sum of the frequency factors' log-relativities)``.

    base_frequency (n,) claims per 1,000 h; log_relativities (n, F); frequency_factors (F,) bool.
    """
    total = _log_sum(log_relativities, frequency_factors)
    np.exp(total, out=total)
    total *= base_frequency
    return total


def expected_severity(
    base_severity: FloatArray, log_relativities: FloatArray, severity_factors: BoolArray
) -> FloatArray:
    """``base * exp(sum of the severity factors' log-relativities)``, currency per claim."""
    total = _log_sum(log_relativities, severity_factors)
    np.exp(total, out=total)
    total *= base_severity
    return total


def pure_premium(
    frequency: FloatArray, severity: FloatArray, annual_hours: FloatArray
) -> FloatArray:
    """Expected annual loss: claims per 1,000 h x currency per claim x (hours per year / 1,000)."""
    return frequency * severity * annual_hours / 1000.0


def loading_multiplier(expense_ratio: float, profit_margin: float, risk_margin: float) -> float:
    """Gross-up of a pure premium: ``(1 + risk_margin) / (1 - expense_ratio - profit_margin)``.
    Multiplicative, so that the premium still decomposes exactly on the log scale."""
    retained = 1.0 - expense_ratio - profit_margin
    if retained <= 0.0:
        raise ValueError("expense ratio and profit margin leave nothing for losses")
    return (1.0 + risk_margin) / retained


def technical_premium(pure: FloatArray, multiplier: float) -> FloatArray:
    """The pure premium with loadings (see ``loading_multiplier``)."""
    return pure * multiplier


def capped_premium(
    technical: FloatArray,
    reference: FloatArray,
    minimum: float,
    max_increase: float,
    max_decrease: float,
) -> FloatArray:
    """The charged premium: ``technical`` kept within ``reference * [1 - max_decrease,
    1 + max_increase]``, then raised to ``minimum``. The reference is the premium in force at the
    end of the previous period, or, for new business, the class reference premium; the minimum
    premium takes precedence over the cap."""
    low = reference * (1.0 - max_decrease)
    high = reference * (1.0 + max_increase)
    return np.maximum(np.clip(technical, low, high), minimum)


def projected_annual_hours(
    exposure_h: FloatArray,
    elapsed_h: FloatArray,
    prior_utilisation: FloatArray | float,
    prior_hours: float,
    minimum_hours: float,
) -> FloatArray:
    """Operating hours a year, projected from the period so far (n,).

    ``8760 * (exposure_h + u_0 * prior_hours) / (elapsed_h + prior_hours)`` with ``u_0`` the
    prior utilisation (the robot's class's, as the book shows it: operating over calendar hours):
    a credibility-style blend of the observed utilisation with the class's, ``prior_hours``
    calendar hours strong; floored at ``minimum_hours`` and capped at 8760 (no robot operates
    more hours than a year has).
    """
    utilisation = (exposure_h + prior_utilisation * prior_hours) / (elapsed_h + prior_hours)
    return np.clip(HOURS_PER_YEAR * utilisation, minimum_hours, HOURS_PER_YEAR)


HOURS_PER_YEAR = 8760.0
