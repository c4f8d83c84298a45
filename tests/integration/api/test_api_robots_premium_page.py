"""GET /v1/robots/premiums/page: each robot the caller sees with its scores in the window, as a
chart and a table with the reasons; another tenant's robots never, whatever the filter; the
window bounded; HTML with no script."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session

from cloud_api.access.roles import Role
from database.models import Robot, RobotClass, risk_scores
from database.models.score import SCORE_FIGURES
from tests.integration.api.robot_factories import add_robot
from tests.integration.risk.risk_factories import approve_starter_plan
from tests.support.api import ApiHarness, principal

NOW = datetime.now(UTC)


def scored(
    session: Session, robot: Robot, plan: int, at: datetime, premium: float, **extra: object
) -> None:
    figures = dict.fromkeys(SCORE_FIGURES, 1.0)
    figures.update(premium=premium, technical_premium=premium * 1.2)
    session.execute(
        insert(risk_scores).values(
            robot_id=robot.id,
            scored_at=at,
            period_start=at - timedelta(days=2),
            plan_version=plan,
            trigger=extra.get("trigger", "schedule"),
            currency="EUR",
            features={},
            contributions={},
            reasons=extra.get("reasons", []),
            **figures,
        )
    )


def sections(page: str) -> list[str]:
    """The serial numbers the page shows, in order."""
    return re.findall(r"<h2>([^ <]+) <span", page)


def test_the_page_shows_each_visible_robots_premium_over_time_with_the_reasons(
    api: ApiHarness,
) -> None:
    plan = approve_starter_plan(api.session.connection(), effective_from=NOW - timedelta(days=40))
    alpha, beta = api.tenant("alpha"), api.tenant("beta")
    hot = add_robot(api.session, alpha, serial_number="A-1", robot_class=RobotClass.INDUSTRIAL_ARM)
    calm = add_robot(api.session, alpha, serial_number="A-2")
    other = add_robot(api.session, beta, serial_number="B-1")
    collisions = [{"factor": "collision_rate", "reason": "More collisions", "log_change": 0.2}]
    scored(api.session, hot, plan, NOW - timedelta(hours=3), 30_000.0)
    scored(
        api.session,
        hot,
        plan,
        NOW - timedelta(hours=1),
        36_642.08,
        trigger="severe_event",
        reasons=collisions,
    )
    scored(api.session, calm, plan, NOW - timedelta(days=60), 9_999.0)  # outside the window
    scored(api.session, other, plan, NOW - timedelta(hours=2), 77_777.0)

    holder = api.client(principal(Role.POLICYHOLDER, "alpha"))
    answer = holder.get("/v1/robots/premiums/page")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert sections(page) == ["A-1", "A-2"]  # its own robots only
    assert "77,777" not in page
    assert "36,642.08" in page
    assert "30,000.00" in page
    assert "+22.1%" in page  # the change from the score before
    assert "More collisions (+22.1%)" in page  # the reason and how far it moved the premium
    assert "9,999" not in page  # before the window
    assert page.count("<svg") == 1
    assert page.count('class="score"') == 2
    assert "No score in this window." in page
    assert "<script" not in page
    # Naming another tenant shows nothing of it.
    assert sections(holder.get("/v1/robots/premiums/page", params={"tenant": "beta"}).text) == []

    underwriter = api.client(principal(Role.UNDERWRITER))
    since = (NOW - timedelta(days=90)).isoformat()
    staff = underwriter.get("/v1/robots/premiums/page", params={"tenant": "alpha", "since": since})
    assert sections(staff.text) == ["A-1", "A-2"]
    assert "9,999.00" in staff.text  # the wider window reaches it
    arms = underwriter.get("/v1/robots/premiums/page", params={"robot_class": "industrial_arm"})
    assert "A-1" in sections(arms.text)
    assert "A-2" not in sections(arms.text)
    assert "B-1" in sections(underwriter.get("/v1/robots/premiums/page").text)


def test_the_window_is_bounded_and_has_a_time_zone(api: ApiHarness) -> None:
    client = api.client(principal(Role.AUDITOR))
    wide = client.get(
        "/v1/robots/premiums/page", params={"since": (NOW - timedelta(days=400)).isoformat()}
    )
    assert wide.status_code == 400
    assert "366 days" in wide.json()["detail"]
    for moment in ("2026-01-01T00:00:00", "0.5", "yesterday"):  # no zone, not a time
        answer = client.get("/v1/robots/premiums/page", params={"until": moment})
        assert answer.status_code == 400, moment
    billing = api.client(principal(Role.BILLING_AGENT))
    assert billing.get("/v1/robots/premiums/page").status_code == 403
