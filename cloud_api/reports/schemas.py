"""Bodies of the reports. Money is in minor units of the report's currency; the reserving
figures are floats (estimates), rounded to the minor unit."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class PremiumPeriodOut(BaseModel):
    period: date
    written_minor: int
    earned_minor: int
    incurred_minor: int = Field(description="Claims incurred on losses of the period, to date.")
    loss_ratio: float | None = Field(description="Incurred over earned; null without earned.")


class PremiumReport(BaseModel):
    currency: str
    period: Period
    valuation: datetime
    periods: list[PremiumPeriodOut]


class OriginOut(BaseModel):
    accident_period: date
    latest_minor: int
    ultimate_minor: int
    ibnr_minor: int
    mack_std_err_minor: int


class ReservesReport(BaseModel):
    currency: str
    period: Period
    valuation: datetime
    basis: str = Field(default="incurred: paid plus outstanding case reserves, cumulative")
    development_factors: list[float]
    triangle: list[list[int | None]] = Field(
        description="Cumulative incurred by accident period (rows) and development period."
    )
    origins: list[OriginOut]
    total_ibnr_minor: int
    total_mack_std_err_minor: int
