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


class ClassPeriodOut(BaseModel):
    period: date
    robot_class: str
    robot_years: float = Field(description="Robots insured, in years (days in force / 365.25).")
    earned_minor: int = Field(description="Earned premium of the class's schedule lines.")
    claims: int = Field(description="Claims that count, by accident period.")
    incurred_minor: int = Field(description="Paid plus outstanding reserves, at the valuation.")
    frequency: float | None = Field(description="Claims per robot-year; null without exposure.")
    severity_minor: int | None = Field(description="Incurred per claim; null without claims.")
    loss_ratio: float | None = Field(description="Incurred over earned; null without earned.")


class ClassReport(BaseModel):
    currency: str
    period: Period
    valuation: datetime
    basis: str = Field(
        default=(
            "earned premium and exposure from the schedules in force (pro rata by day;"
            " short-rate penalties and rounding make the ledger's earned differ slightly);"
            " claims and incurred by accident period"
        )
    )
    rows: list[ClassPeriodOut] = Field(description="By period, then robot class.")
    classes: list[ClassPeriodOut] = Field(
        description="Each class over all periods (``period`` is the first)."
    )
