"""Rating periods: calendar months or quarters, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from risk_engine.settings import RatingPeriod


def period_start(moment: datetime, period: RatingPeriod) -> datetime:
    """The start of the rating period that contains ``moment``."""
    utc = moment.astimezone(UTC)
    month = utc.month if period == "month" else 3 * ((utc.month - 1) // 3) + 1
    return datetime(utc.year, month, 1, tzinfo=UTC)


def hour_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def years_before(moment: datetime, years: int) -> datetime:
    return moment - timedelta(days=365.25 * years)
