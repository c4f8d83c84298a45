"""A robot's history through the API: the on-demand rescore (recorded as on_demand), its risk
scores, events and sequence gaps in bounded, paged time ranges. (Telemetry:
test_api_robots_telemetry.py.)"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, text

from cloud_api.access.roles import Role
from cloud_api.robots import history
from cloud_api.robots.endpoints import get_robot_broker
from cloud_api.robots.history import RescoreBusyError
from cloud_api.settings import ApiSettings
from database.models import (
    AuditEvent,
    RobotAction,
    SequenceGap,
    risk_scores,
    robot_events,
)
from risk_engine.settings import WorkerSettings
from tests.integration.api.robot_factories import RecordingBroker, add_robot
from tests.integration.risk.risk_factories import approve_starter_plan
from tests.support.api import ApiHarness, principal

ADMIN = principal(Role.ADMIN)
NOW = datetime.now(UTC)


def test_an_underwriter_rescores_on_demand_and_the_history_says_so(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    approve_starter_plan(api.session.connection(), effective_from=NOW - timedelta(days=40))
    underwriter = principal(Role.UNDERWRITER)
    client = api.client(underwriter)
    response = client.post(f"/v1/robots/{robot.id}/rescore")
    assert response.status_code == 200, response.text
    score = response.json()
    assert score["trigger"] == "on_demand"
    assert score["premium"] > 0
    stored = api.session.execute(
        select(risk_scores.c.id, risk_scores.c.trigger).where(risk_scores.c.robot_id == robot.id)
    ).all()
    assert [(row.id, row.trigger) for row in stored] == [(score["id"], "on_demand")]
    event = api.session.scalars(
        select(AuditEvent).where(AuditEvent.target_id == str(robot.id))
    ).one()
    assert (event.action, event.actor_id) == ("robots:rescore", underwriter.id)
    assert event.detail["after"]["score_id"] == score["id"]
    action = api.session.scalars(select(RobotAction).where(RobotAction.robot_id == robot.id)).one()
    assert (action.action, action.actor) == ("rescored", str(underwriter.id))
    history = client.get(f"/v1/robots/{robot.id}/risk-scores").json()
    assert [(s["id"], s["trigger"]) for s in history["items"]] == [(score["id"], "on_demand")]
    assert (
        client.get(f"/v1/robots/{robot.id}/risk-scores", params={"trigger": "schedule"}).json()[
            "items"
        ]
        == []
    )


def test_a_revoked_robot_or_no_plan_is_a_conflict(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    recorder = RecordingBroker()
    api.app.dependency_overrides[get_robot_broker] = lambda: recorder  # for the revocation
    client = api.client(ADMIN)
    no_plan = client.post(f"/v1/robots/{robot.id}/rescore")
    assert no_plan.status_code == 409
    assert "rating plan" in no_plan.json()["detail"]
    client.post(f"/v1/robots/{robot.id}/revoke", json={"reason": "gone"})
    approve_starter_plan(api.session.connection(), effective_from=NOW - timedelta(days=40))
    assert client.post(f"/v1/robots/{robot.id}/rescore").status_code == 409


def _events(api: ApiHarness, robot_id: uuid.UUID, count: int, start: datetime) -> None:
    api.session.execute(
        insert(robot_events),
        [
            {
                "time": start + timedelta(minutes=i // 2),  # two events share each time
                "robot_id": robot_id,
                "seq": 10 + i // 2,
                "position": i % 2,
                "kind": "collision" if i % 3 == 0 else "protective_stop",
                "severity": 2 if i % 3 == 0 else 1,
                "detail": {},
            }
            for i in range(count)
        ],
    )


def test_events_page_newest_first_within_a_bounded_range(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    _events(api, robot.id, 7, NOW - timedelta(hours=2))
    _events(api, robot.id, 2, NOW - timedelta(days=20))  # outside the default 7 days
    client = api.client(principal(Role.POLICYHOLDER, "alpha"))
    url = f"/v1/robots/{robot.id}/events"
    keys: list[tuple[int, int]] = []
    cursor: str | None = None
    while True:
        body = client.get(
            url, params={"limit": "3", **({"cursor": cursor} if cursor else {})}
        ).json()
        keys += [(e["seq"], e["position"]) for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = sorted(((10 + i // 2, i % 2) for i in range(7)), reverse=True)
    assert keys == expected
    wide = client.get(url, params={"since": (NOW - timedelta(days=25)).isoformat(), "limit": "200"})
    assert wide.status_code == 200
    assert len(wide.json()["items"]) == 9
    collisions = client.get(url, params={"kind": "collision", "limit": "200"}).json()["items"]
    assert {e["kind"] for e in collisions} == {"collision"}
    assert len(collisions) == 3
    assert len(client.get(url, params={"min_severity": "2"}).json()["items"]) == 3


def test_too_wide_or_backwards_ranges_are_refused(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    client = api.client(ADMIN)
    since = (NOW - timedelta(days=40)).isoformat()
    for path in ("events", "gaps"):
        wide = client.get(f"/v1/robots/{robot.id}/{path}", params={"since": since})
        assert wide.status_code == 400
        assert wide.headers["content-type"] == "application/problem+json"
        assert "at most 31 days" in wide.json()["detail"]
        backwards = client.get(
            f"/v1/robots/{robot.id}/{path}",
            params={"since": NOW.isoformat(), "until": (NOW - timedelta(days=1)).isoformat()},
        )
        assert backwards.status_code == 400
    naive = client.get(f"/v1/robots/{robot.id}/events", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 400


def test_gaps_open_and_closed(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    api.session.add_all(
        [
            SequenceGap(robot_id=robot.id, first_seq=5, last_seq=9),
            SequenceGap(
                robot_id=robot.id, first_seq=20, last_seq=20, closed_at=NOW, resolution="filled"
            ),
            SequenceGap(robot_id=robot.id, first_seq=30, last_seq=31),
        ]
    )
    api.session.flush()
    client = api.client(ADMIN)
    url = f"/v1/robots/{robot.id}/gaps"
    first = client.get(url, params={"limit": "2", "sort": "first_seq"}).json()
    rest = client.get(url, params={"sort": "first_seq", "cursor": first["next_cursor"]}).json()
    assert [g["first_seq"] for g in first["items"] + rest["items"]] == [5, 20, 30]
    open_gaps = client.get(url, params={"open": "true"}).json()["items"]
    assert sorted(g["first_seq"] for g in open_gaps) == [5, 30]
    closed = client.get(url, params={"open": "false"}).json()["items"]
    assert [(g["first_seq"], g["resolution"]) for g in closed] == [(20, "filled")]


def test_a_rescore_behind_a_running_one_gives_up_with_a_503(
    api: ApiHarness, shared_database: Engine, api_settings: ApiSettings
) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    approve_starter_plan(api.session.connection(), effective_from=NOW - timedelta(days=40))
    settings = WorkerSettings(database_url=api_settings.database_url)
    with shared_database.connect() as other, other.begin():
        other.execute(text("SELECT pg_advisory_xact_lock(hashtext('robocover.risk.rescore'))"))
        started = time.monotonic()
        with pytest.raises(RescoreBusyError) as refused, api.session.begin_nested():
            history.rescore(
                api.session, ADMIN, robot.id, settings, lock_wait=timedelta(milliseconds=300)
            )
        # It waited for the lock (no upper bound: a timed ceiling fails on a loaded machine).
        assert time.monotonic() - started >= 0.25
    assert refused.value.status == 503
    assert refused.value.headers["Retry-After"] == "30"
    # Once the other rescore is done, the next one goes through, and the wait is as before.
    before = api.session.scalars(select(func.current_setting("lock_timeout"))).one()
    score = history.rescore(api.session, ADMIN, robot.id, settings)
    assert score.trigger == "on_demand"
    assert api.session.scalars(select(func.current_setting("lock_timeout"))).one() == before
