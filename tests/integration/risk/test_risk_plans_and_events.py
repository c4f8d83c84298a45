"""Rating plans: drafts, approval, supersession, effective dates; the severe-event scan."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Connection, text

from risk_engine.plans.default import starter_plan
from risk_engine.plans.repository import (
    PlanError,
    active_plan,
    approve_plan,
    get_plan,
    list_plans,
    save_draft,
)
from risk_engine.severe import robots_with_severe_events
from tests.integration.risk.risk_factories import PERIOD, create_robots


def test_a_plan_rates_only_once_approved_and_is_superseded_by_the_next(
    db_connection: Connection,
) -> None:
    first = save_draft(db_connection, starter_plan(PERIOD), created_by="analyst")
    with pytest.raises(PlanError):
        active_plan(db_connection, PERIOD + timedelta(days=1))
    with pytest.raises(PlanError, match="give their name"):
        approve_plan(db_connection, first, approved_by=" ", at=PERIOD)
    approve_plan(db_connection, first, approved_by="chief actuary", at=PERIOD)
    assert active_plan(db_connection, PERIOD + timedelta(days=1)).version == first
    later = PERIOD + timedelta(days=30)
    second = save_draft(db_connection, starter_plan(later), created_by="analyst")
    assert active_plan(db_connection, later + timedelta(days=1)).version == first
    approve_plan(db_connection, second, approved_by="chief actuary", at=later)
    assert active_plan(db_connection, later + timedelta(days=1)).version == second
    assert active_plan(db_connection, later - timedelta(days=1)).version == first
    assert get_plan(db_connection, first).plan.effective_to == later
    with pytest.raises(PlanError, match="only a draft"):
        approve_plan(db_connection, second, approved_by="chief actuary", at=later)
    earlier = save_draft(db_connection, starter_plan(PERIOD), created_by="analyst")
    with pytest.raises(PlanError, match="starts on or after"):
        approve_plan(db_connection, earlier, approved_by="chief actuary", at=later)
    assert [p.status for p in list_plans(db_connection)] == ["approved", "approved", "draft"]
    with pytest.raises(PlanError, match="no rating plan version"):
        get_plan(db_connection, 10_000)


def test_the_database_refuses_an_approved_plan_without_approver(db_connection: Connection) -> None:
    version = save_draft(db_connection, starter_plan(PERIOD), created_by="analyst")
    with pytest.raises(Exception, match="approved_has_approver"):
        db_connection.execute(
            text("UPDATE rating_plans SET status = 'approved' WHERE version = :v"), {"v": version}
        )


def _event(
    conn: Connection, robot: object, kind: str, minutes: int, seq: int, *, severity: int = 1
) -> None:
    conn.execute(
        text(
            "INSERT INTO robot_events (time, robot_id, seq, position, kind, severity, received_at)"
            " VALUES (:t, :r, :s, 0, :k, :sev, :t)"
        ),
        {
            "t": PERIOD + timedelta(minutes=minutes),
            "r": robot,
            "s": seq,
            "k": kind,
            "sev": severity,
        },
    )


def test_severe_events_are_found_once(db_connection: Connection) -> None:
    calm, collided, stopping, faulty = create_robots(
        db_connection, ["cobot", "cobot", "mobile_robot", "industrial_arm"]
    )
    _event(db_connection, calm, "protective_stop", 1, 1)
    _event(db_connection, calm, "fault", 2, 2, severity=2)
    _event(db_connection, collided, "collision", 3, 1)
    for minute in (4, 10, 20):
        _event(db_connection, stopping, "protective_stop", minute, minute)
    _event(db_connection, faulty, "fault", 5, 1, severity=3)
    now = PERIOD + timedelta(minutes=30)
    found = robots_with_severe_events(
        db_connection, now=now, settle_seconds=0.0, repeated_protective_stops=3
    )
    assert set(found) == {collided, stopping, faulty}
    again = robots_with_severe_events(
        db_connection,
        now=now + timedelta(minutes=1),
        settle_seconds=0.0,
        repeated_protective_stops=3,
    )
    assert again == []
