"""The insurer's reports: written and earned premium with the loss ratio by period, and the
reserves (chain ladder IBNR with Mack's standard errors) on the incurred triangle built from the
platform's own claims by accident and development period. Read-only; staff (reports:read)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

import numpy as np
from sqlalchemy.orm import Session

from cloud_api.errors import UnprocessableError
from cloud_api.reports import repository
from cloud_api.reports.reserving import chain_ladder
from cloud_api.reports.schemas import (
    ClassPeriodOut,
    ClassReport,
    OriginOut,
    Period,
    PremiumPeriodOut,
    PremiumReport,
    ReservesReport,
)

MAX_PERIODS = 60
DAYS_PER_YEAR = 365.25


def _index(moment: date, period: Period) -> int:
    """A running number of the period containing ``moment``."""
    per_year = repository.PERIODS[period.value]
    return moment.year * per_year + (moment.month - 1) // (12 // per_year)


def _start(index: int, period: Period) -> date:
    per_year = repository.PERIODS[period.value]
    return date(index // per_year, 1 + (index % per_year) * (12 // per_year), 1)


def triangle(
    session: Session, currency: str, period: Period, valuation: datetime
) -> tuple[list[date], np.ndarray]:
    """The cumulative incurred triangle: accident periods from the first loss to the
    valuation's, development periods as many; NaN where not yet observed."""
    moves = repository.incurred_movements(session, currency, period.value, valuation)
    if not moves:
        return [], np.zeros((0, 0))
    last = _index(valuation.date(), period)
    first = min(_index(m["accident"].date(), period) for m in moves)
    size = last - first + 1
    if size > MAX_PERIODS:
        raise UnprocessableError(
            f"{size} {period.value}s of claims: at most {MAX_PERIODS}; choose a longer period"
        )
    increments = np.zeros((size, size))
    for move in moves:
        row = _index(move["accident"].date(), period) - first
        column = min(int(move["development"]), size - 1 - row)
        increments[row, column] += float(move["amount"])
    cumulative = np.cumsum(increments, axis=1)
    for row in range(size):
        cumulative[row, size - row :] = np.nan  # not yet observed
    return [_start(first + i, period) for i in range(size)], cumulative


def reserves(
    session: Session, currency: str, period: Period, valuation: datetime
) -> ReservesReport:
    origins, values = triangle(session, currency, period, valuation)
    if len(origins) < 2:
        return ReservesReport(
            currency=currency,
            period=period,
            valuation=valuation,
            development_factors=[],
            triangle=[[None if np.isnan(v) else round(v) for v in row] for row in values],
            origins=[],
            total_ibnr_minor=0,
            total_mack_std_err_minor=0,
        )
    reserve = chain_ladder(values)
    return ReservesReport(
        currency=currency,
        period=period,
        valuation=valuation,
        development_factors=[round(float(f), 6) for f in reserve.factors],
        triangle=[[None if np.isnan(v) else round(v) for v in row] for row in values],
        origins=[
            OriginOut(
                accident_period=origin,
                latest_minor=round(reserve.latest[i]),
                ultimate_minor=round(reserve.ultimate[i]),
                ibnr_minor=round(reserve.ibnr[i]),
                mack_std_err_minor=round(reserve.std_err[i]),
            )
            for i, origin in enumerate(origins)
        ],
        total_ibnr_minor=round(reserve.total_ibnr),
        total_mack_std_err_minor=round(reserve.total_std_err),
    )


def premium(session: Session, currency: str, period: Period, valuation: datetime) -> PremiumReport:
    figures: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in repository.premium(session, currency, period.value, valuation):
        figures[row["period"].date()][row["account"]] += int(row["amount"])
    origins, values = triangle(session, currency, period, valuation)
    for origin, row in zip(origins, values, strict=True):
        known = row[~np.isnan(row)]
        figures[origin]["incurred"] += round(float(known[-1])) if known.size else 0
    periods = []
    for start in sorted(figures):
        amounts = figures[start]
        earned = amounts["earned_premium"]
        periods.append(
            PremiumPeriodOut(
                period=start,
                written_minor=amounts["written_premium"],
                earned_minor=earned,
                incurred_minor=amounts["incurred"],
                loss_ratio=None if earned <= 0 else round(amounts["incurred"] / earned, 6),
            )
        )
    return PremiumReport(currency=currency, period=period, valuation=valuation, periods=periods)


def _class_row(start: date, robot_class: str, figures: dict[str, float]) -> ClassPeriodOut:
    years = figures["robot_days"] / DAYS_PER_YEAR
    earned = round(figures["earned"])
    claims = int(figures["claims"])
    incurred = round(figures["incurred"])
    return ClassPeriodOut(
        period=start,
        robot_class=robot_class,
        robot_years=round(years, 4),
        earned_minor=earned,
        claims=claims,
        incurred_minor=incurred,
        frequency=round(claims / years, 6) if years > 0 else None,
        severity_minor=round(incurred / claims) if claims else None,
        loss_ratio=round(incurred / earned, 6) if earned > 0 else None,
    )


def classes(session: Session, currency: str, period: Period, valuation: datetime) -> ClassReport:
    """Loss ratio, claim frequency and severity by robot class and period, and by class over
    all periods: earned premium and robot-years from the schedules in force, claims and their
    incurred by accident period, as known at ``valuation``."""
    zero = {"earned": 0.0, "robot_days": 0.0, "claims": 0.0, "incurred": 0.0}
    cells: dict[tuple[date, str], dict[str, float]] = defaultdict(lambda: dict(zero))
    for row in repository.class_exposure(session, currency, period.value, valuation):
        cell = cells[row["period"], row["robot_class"]]
        cell["earned"] += float(row["earned"])
        cell["robot_days"] += float(row["robot_days"])
    for row in repository.class_claims(session, currency, period.value, valuation):
        cell = cells[row["period"], row["robot_class"]]
        cell["claims"] += float(row["claims"])
        cell["incurred"] += float(row["incurred"])
    if len({start for start, _ in cells}) > MAX_PERIODS:
        raise UnprocessableError(f"more than {MAX_PERIODS} {period.value}s: choose a longer period")
    totals: dict[str, dict[str, float]] = defaultdict(lambda: dict(zero))
    first: dict[str, date] = {}
    for (start, robot_class), figures in sorted(cells.items()):
        first.setdefault(robot_class, start)
        for key, value in figures.items():
            totals[robot_class][key] += value
    return ClassReport(
        currency=currency,
        period=period,
        valuation=valuation,
        rows=[_class_row(s, c, f) for (s, c), f in sorted(cells.items())],
        classes=[_class_row(first[c], c, f) for c, f in sorted(totals.items())],
    )
