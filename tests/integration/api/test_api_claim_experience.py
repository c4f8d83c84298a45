"""A claim keeps its robot's claims experience (month of the loss, coverage: the claims that
count, their incurred, the robot's earned operating hours from its hourly rollups), and the
risk engine's credibility reads it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from database.models import Metric, claim_experience, telemetry_hourly
from risk_engine.repository import load_experience
from tests.integration.api.claim_factories import InsuredFleet
from tests.integration.api.test_api_claims import ADJUSTER, NOW, insured, post, reported
from tests.support.api import ApiHarness

__all__ = ["insured"]  # the fixture, shared with the claims tests


def test_the_robots_claims_experience_follows_its_claims_and_reaches_pricing(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    robot = insured.robots[0]
    loss = NOW - timedelta(days=3)
    month = datetime(loss.year, loss.month, 1, tzinfo=UTC)
    hours = Metric(
        key=f"operating_hours_h.{uuid.uuid4().hex[:6]}",
        name="operating_hours_h",
        channel=0,
        unit="h",
    )
    api.session.add(hours)
    api.session.flush()
    for hour, counter in ((0, 1000.0), (24, 1020.0), (48, 1062.5)):
        api.session.execute(
            insert(telemetry_hourly).values(
                robot_id=robot.id,
                metric_id=hours.id,
                bucket=month + timedelta(hours=hour),
                samples=60,
                total=counter * 60,
                total_sq=counter * counter * 60,
                minimum=counter - 0.5 if hour else counter,
                maximum=counter,
                last_time=month + timedelta(hours=hour, minutes=59),
                last_value=counter,
            )
        )
    staff = api.client(ADJUSTER)
    first = reported(staff, robot.id, loss_at=loss.isoformat())
    second = reported(staff, robot.id, loss_at=loss.isoformat())
    post(staff, first, "reserves", {"cost_type": "repair", "amount_minor": 120_050})
    post(staff, second, "reserves", {"cost_type": "expenses", "amount_minor": 9_900})

    def row() -> tuple[int, Decimal, float]:
        found = api.session.execute(
            select(
                claim_experience.c.claim_count,
                claim_experience.c.incurred,
                claim_experience.c.exposure_h,
            ).where(
                claim_experience.c.robot_id == robot.id,
                claim_experience.c.period_start == month,
                claim_experience.c.coverage == "breakdown",
            )
        ).one()
        return int(found[0]), found[1], float(found[2])

    assert row() == (2, Decimal("1299.50"), 62.5)
    post(staff, second, "deny", {"reason_code": "duplicate", "note": "the same loss"})
    assert row() == (1, Decimal("1200.50"), 62.5)  # a denied claim no longer counts
    experience = load_experience(api.session.connection(), month, [robot.id])
    assert experience.rows() == [(str(robot.id), 1.0, 62.5)]  # what credibility reads
