"""Days of cover and billing: a day starts at 00:00 UTC; months are calendar months."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, on the same day of the month or the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")  # pragma: no cover
