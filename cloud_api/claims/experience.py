"""The loop back to pricing: each claim keeps its robot's ``claim_experience`` row (robot,
calendar month of the loss, coverage) up to date, which the risk engine's credibility reads
(actual claims against expected, over earned operating hours).

A row holds the month's claims that count (open, or approved: not denied or withdrawn), their
incurred (paid plus outstanding reserves, in major units of their currency) and the robot's
earned operating hours in the month (the increase of its ``operating_hours_h`` counter over the
month's hourly rollups; 0 without telemetry, which gives the claims no weight). Recomputed from
the claims whenever one of them moves money or is decided, so it is idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from cloud_api.claims import repository
from cloud_api.ledger.money import minor_exponent
from database.models import Claim


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    utc = moment.astimezone(UTC)
    start = datetime(utc.year, utc.month, 1, tzinfo=UTC)
    end = datetime(utc.year + utc.month // 12, utc.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def record(session: Session, claim: Claim) -> None:
    start, end = month_of(claim.loss_at)
    repository.lock_experience(session, f"experience:{claim.robot_id}:{claim.coverage}:{start}")
    count, incurred_minor = repository.experience_claims(
        session, claim.robot_id, claim.coverage, start, end
    )
    incurred = Decimal(incurred_minor).scaleb(-minor_exponent(claim.currency))
    hours = repository.operating_hours(session, claim.robot_id, start, end)
    repository.upsert_experience(
        session,
        robot_id=claim.robot_id,
        coverage=claim.coverage,
        period=(start, end),
        claims=count,
        incurred=incurred,
        exposure_h=hours,
    )
