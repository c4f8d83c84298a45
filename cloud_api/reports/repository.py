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
# Earned premium and exposure by robot class, from the schedules in force: each version of a
# policy is in force from its effective day until the next version's (a later version that is
# backdated cuts it short) or the term's end; while in force (status in_force), each robot's
# schedule lines earn their term premium evenly by day, and the robot is exposed for the day.
# Both are cut at the valuation day and split by period.
_CLASS_EXPOSURE = text(
    """
WITH versions AS (
    SELECT v.policy_id, v.status, v.schedule, p.term_start::date AS term_start,
        p.term_end::date AS term_end, v.effective_from::date AS span_from,
        least(p.term_end::date, :valuation_day, (min(v.effective_from) OVER (
            PARTITION BY v.policy_id ORDER BY v.version_no DESC
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))::date) AS span_to
    FROM policy_versions v JOIN policies p ON p.id = v.policy_id
    WHERE p.currency = :currency AND v.recorded_at < :valuation
), robots_in_force AS (
    SELECT s.policy_id, greatest(s.span_from, s.term_start) AS span_from, s.span_to,
        s.term_end - s.term_start AS term_days, CAST(line ->> 'robot_id' AS uuid) AS robot_id,
        sum(CAST(line ->> 'premium_minor' AS bigint)) AS premium
    FROM versions s CROSS JOIN LATERAL jsonb_array_elements(s.schedule) AS line
    WHERE s.status = 'in_force' AND s.span_to > greatest(s.span_from, s.term_start)
    GROUP BY 1, 2, 3, 4, 5
), split AS (
    SELECT r.robot_class, g.start::date AS period, i.premium, i.term_days,
        least(i.span_to, (g.start + CAST(:step AS interval))::date)
        - greatest(i.span_from, g.start::date) AS days
    FROM robots_in_force i JOIN robots r ON r.id = i.robot_id
    CROSS JOIN LATERAL generate_series(date_trunc(:period, i.span_from::timestamp),
        CAST(i.span_to - 1 AS timestamp), CAST(:step AS interval)) AS g(start)
)
SELECT period, robot_class, sum(premium * days::numeric / term_days) AS earned,
    sum(days) AS robot_days
FROM split WHERE days > 0 GROUP BY 1, 2 ORDER BY 1, 2
"""
)
# Claims that count (not withdrawn or duplicates) and their incurred (paid plus outstanding
# reserves) as known at the valuation, by accident period and robot class.
_CLASS_CLAIMS = text(
    """
WITH moves AS (
    SELECT x.claim_id, x.change_minor AS amount FROM claim_reserves x WHERE x.set_at < :valuation
    UNION ALL
    SELECT e.claim_id, CAST(e.detail ->> 'amount_minor' AS bigint) FROM claim_events e
    WHERE e.transition = 'pay' AND e.at < :valuation
), incurred AS (
    SELECT claim_id, sum(amount) AS incurred FROM moves GROUP BY 1
)
SELECT date_trunc(:period, c.loss_at)::date AS period, r.robot_class, count(*) AS claims,
    coalesce(sum(m.incurred), 0) AS incurred
FROM claims c JOIN robots r ON r.id = c.robot_id LEFT JOIN incurred m ON m.claim_id = c.id
WHERE c.currency = :currency AND c.loss_at < :valuation AND c.reported_at < :valuation
    AND coalesce(c.decision_code, '') NOT IN ('withdrawn', 'duplicate')
GROUP BY 1, 2 ORDER BY 1, 2
"""
)
# The reports read whole tables into few rows: PostgreSQL's JIT compilation costs more than it
# saves on them (about a third of the class report's time on the bench's book), so each
# report's transaction runs without it.
_NO_JIT = text("SET LOCAL jit = off")
PERIODS = {"month": 12, "quarter": 4, "year": 1}
STEPS = {"month": "1 month", "quarter": "3 months", "year": "1 year"}


def premium(
    session: Session, currency: str, period: str, valuation: datetime
) -> list[dict[str, Any]]:
    session.execute(_NO_JIT)
    rows = session.execute(
        _PREMIUM, {"currency": currency, "period": period, "valuation": valuation.date()}
    )
    return [dict(r._mapping) for r in rows]


def incurred_movements(
    session: Session, currency: str, period: str, valuation: datetime
) -> list[dict[str, Any]]:
    session.execute(_NO_JIT)
    parameters = {
        "currency": currency,
        "period": period,
        "per_year": PERIODS[period],
        "valuation": valuation,
    }
    return [dict(r._mapping) for r in session.execute(_MOVEMENTS, parameters)]


def class_exposure(
    session: Session, currency: str, period: str, valuation: datetime
) -> list[dict[str, Any]]:
    """(period, robot_class, earned, robot_days): earned in minor units (not rounded)."""
    session.execute(_NO_JIT)
    parameters = {
        "currency": currency,
        "period": period,
        "valuation": valuation,
        "valuation_day": valuation.date(),
        "step": STEPS[period],
    }
    return [dict(r._mapping) for r in session.execute(_CLASS_EXPOSURE, parameters)]


def class_claims(
    session: Session, currency: str, period: str, valuation: datetime
) -> list[dict[str, Any]]:
    """(period, robot_class, claims, incurred) by accident period."""
    session.execute(_NO_JIT)
    parameters = {"currency": currency, "period": period, "valuation": valuation}
    return [dict(r._mapping) for r in session.execute(_CLASS_CLAIMS, parameters)]
