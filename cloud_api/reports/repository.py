"""The reports' queries: each aggregates in the database and returns few rows, however many
ledger lines and claim movements there are."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_PREMIUM = text(
    "SELECT date_trunc(:period, e.booked_on) AS period, l.account,"
    " -sum(l.amount_minor) AS amount"
    " FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id"
    " WHERE l.currency = :currency AND l.account IN ('written_premium', 'earned_premium')"
    " AND e.booked_on <= :valuation"
    " GROUP BY 1, 2 ORDER BY 1, 2"
)
# Incurred (paid plus outstanding reserves) moves by every reserve row (set, released, or used
# by a payment) and by every payment; cumulated by the movement's development quarter since
# the start of its claim's accident quarter.
_MOVEMENTS = text(
    """
WITH moves AS (
    SELECT c.loss_at, r.set_at AS at, r.change_minor AS amount, c.id AS claim_id
    FROM claim_reserves r JOIN claims c ON c.id = r.claim_id
    WHERE c.currency = :currency
    UNION ALL
    SELECT c.loss_at, e.at, CAST(e.detail ->> 'amount_minor' AS bigint), c.id
    FROM claim_events e JOIN claims c ON c.id = e.claim_id
    WHERE e.transition = 'pay' AND c.currency = :currency
)
SELECT date_trunc(:period, loss_at) AS accident,
    (extract(year FROM at) - extract(year FROM date_trunc(:period, loss_at))) * :per_year
    + floor((extract(month FROM at) - 1) / (12 / :per_year))
    - floor((extract(month FROM date_trunc(:period, loss_at)) - 1) / (12 / :per_year))
    AS development,
    sum(amount) AS amount
FROM moves WHERE at < :valuation AND loss_at < :valuation
GROUP BY 1, 2 ORDER BY 1, 2
"""
)
_CLAIM_COUNTS = text(
    "SELECT date_trunc(:period, c.loss_at) AS accident, r.robot_class, count(*) AS claims"
    " FROM claims c JOIN robots r ON r.id = c.robot_id"
    " WHERE c.currency = :currency AND c.loss_at < :valuation"
    " AND coalesce(c.decision_code, '') NOT IN ('withdrawn', 'duplicate')"
    " GROUP BY 1, 2 ORDER BY 1, 2"
)

PERIODS = {"month": 12, "quarter": 4, "year": 1}


def premium(
    session: Session, currency: str, period: str, valuation: datetime
) -> list[dict[str, Any]]:
    rows = session.execute(
        _PREMIUM, {"currency": currency, "period": period, "valuation": valuation.date()}
    )
    return [dict(r._mapping) for r in rows]


def incurred_movements(
    session: Session, currency: str, period: str, valuation: datetime
) -> list[dict[str, Any]]:
    parameters = {
        "currency": currency,
        "period": period,
        "per_year": PERIODS[period],
        "valuation": valuation,
    }
    return [dict(r._mapping) for r in session.execute(_MOVEMENTS, parameters)]


def claim_counts(
    session: Session, currency: str, period: str, valuation: datetime
) -> list[dict[str, Any]]:
    parameters = {"currency": currency, "period": period, "valuation": valuation}
    return [dict(r._mapping) for r in session.execute(_CLAIM_COUNTS, parameters)]
