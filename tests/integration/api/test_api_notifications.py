"""/v1/notifications on the real database: a tenant's webhook subscriptions (the secret shown
once), the delivery log and replays, another tenant's subscriptions and deliveries not
existing for it; and the outbox: issuing a policy and moving a claim record what the tenant is
told, with a delivery per subscription to the event and per policyholder by email."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from cloud_api.access.roles import Role
from cloud_api.notifications import repository, watch
from cloud_api.notifications.schemas import EventType
from cloud_api.notifications.service import notify
from database.models import Notification, NotificationDelivery, ReviewCase, User
from tests.integration.api.claim_factories import insured_fleet
from tests.integration.api.robot_factories import add_robot
from tests.support.api import ApiHarness, principal

HOLDER = principal(Role.POLICYHOLDER, "alpha")
OTHER = principal(Role.POLICYHOLDER, "beta")
ADMIN = principal(Role.ADMIN)
ADJUSTER = principal(Role.CLAIMS_ADJUSTER)


@pytest.fixture
def tenants(api: ApiHarness) -> None:
    api.tenant("alpha")
    api.tenant("beta")


def subscribe(
    api: ApiHarness, events: list[str], url: str = "https://hooks.example.test/rc"
) -> Any:
    response = api.client(HOLDER).post(
        "/v1/notifications/webhooks", json={"url": url, "event_types": events}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_subscription_shows_its_secret_once_and_stays_in_its_tenant(
    api: ApiHarness, tenants: None
) -> None:
    made = subscribe(api, ["claim_status_changed", "policy_issued"])
    assert made["secret"].startswith("whsec_")
    assert made["tenant"] == "alpha"
    listed = api.client(HOLDER).get("/v1/notifications/webhooks").json()["items"]
    assert [s["id"] for s in listed] == [made["id"]]
    assert "secret" not in listed[0]
    other = api.client(OTHER)
    assert other.get("/v1/notifications/webhooks").json()["items"] == []
    assert other.delete(f"/v1/notifications/webhooks/{made['id']}").status_code == 404
    assert api.client(HOLDER).delete(f"/v1/notifications/webhooks/{made['id']}").status_code == 204
    listed = api.client(HOLDER).get("/v1/notifications/webhooks").json()["items"]
    assert listed[0]["active"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://user:pw@hooks.example.test/", "event_types": ["policy_issued"]},
        {"url": "ftp://hooks.example.test/", "event_types": ["policy_issued"]},
        {"url": "https://hooks.example.test/", "event_types": []},
        {"url": "https://hooks.example.test/", "event_types": ["policy_issued", "policy_issued"]},
        {"url": "https://hooks.example.test/", "event_types": ["everything"]},
        {"url": "https://hooks.example.test/" + "a" * 500, "event_types": ["policy_issued"]},
    ],
)
def test_bad_subscriptions_are_422(api: ApiHarness, tenants: None, body: dict[str, Any]) -> None:
    response = api.client(HOLDER).post("/v1/notifications/webhooks", json=body)
    assert response.status_code == 422, response.text


def test_staff_name_the_tenant_and_an_adjuster_manages_none(api: ApiHarness, tenants: None) -> None:
    body = {"url": "https://hooks.example.test/", "event_types": ["policy_issued"]}
    assert api.client(ADMIN).post("/v1/notifications/webhooks", json=body).status_code == 422
    named = api.client(ADMIN).post("/v1/notifications/webhooks", json={**body, "tenant": "beta"})
    assert named.status_code == 201
    assert named.json()["tenant"] == "beta"
    assert api.client(ADJUSTER).post("/v1/notifications/webhooks", json=body).status_code == 403


def test_issuing_and_claims_tell_the_tenant_through_the_outbox(api: ApiHarness) -> None:
    api.tenant("alpha")
    subscribe(api, ["claim_status_changed"])
    api.session.add(
        User(
            email="ops@alpha.test",
            full_name="Ops",
            role="policyholder",
            tenant_id=api.tenant("alpha").id,
            password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        )
    )
    api.session.flush()
    insured = insured_fleet(api)
    issued = api.session.scalars(
        select(Notification).where(Notification.event_type == "policy_issued")
    ).one()
    assert issued.payload["number"] == insured.policy.number
    assert issued.subject_id == str(insured.policy.id)
    issued_to = api.session.scalars(
        select(NotificationDelivery.channel).where(
            NotificationDelivery.notification_id == issued.id
        )
    ).all()
    assert issued_to == ["email"]  # the webhook is for claims only
    claim = api.client(HOLDER).post(
        "/v1/claims",
        json={
            "robot_id": str(insured.robots[0].id),
            "coverage": "breakdown",
            "loss_at": insured.term_start.isoformat(),
            "description": "A fall.",
        },
    )
    assert claim.status_code == 201, claim.text
    triaged = api.client(ADJUSTER).post(
        f"/v1/claims/{claim.json()['id']}/triage", json={"severity": "low"}
    )
    assert triaged.status_code == 200
    told = api.session.scalars(
        select(Notification)
        .where(Notification.event_type == "claim_status_changed")
        .order_by(Notification.created_at)
    ).all()
    assert [(n.payload["status"], n.payload["previous"]) for n in told] == [
        ("reported", None),
        ("triaged", "reported"),
    ]
    log = api.client(HOLDER).get("/v1/notifications/deliveries?channel=webhook").json()["items"]
    assert {(d["event_type"], d["status"], d["attempts"]) for d in log} == {
        ("claim_status_changed", "pending", 0)
    }
    assert len(log) == 2
    assert api.client(OTHER).get("/v1/notifications/deliveries").json()["items"] == []
    pending = api.client(HOLDER).post(f"/v1/notifications/deliveries/{log[0]['id']}/replay")
    assert pending.status_code == 409  # still being tried
    assert (
        api.client(OTHER).post(f"/v1/notifications/deliveries/{log[0]['id']}/replay").status_code
        == 404
    )


def test_one_active_subscription_per_url_and_stopping_one_drops_its_pending_deliveries(
    api: ApiHarness, tenants: None
) -> None:
    made = subscribe(api, ["claim_status_changed"])
    again = api.client(HOLDER).post(
        "/v1/notifications/webhooks",
        json={"url": made["url"], "event_types": ["policy_issued"]},
    )
    assert again.status_code == 409
    tenant = api.tenant("alpha")
    notify(
        api.session,
        tenant_id=tenant.id,
        event=EventType.CLAIM_STATUS_CHANGED,
        subject=("claim", uuid.uuid4()),
        payload={"number": "CL-1"},
        now=datetime.now(UTC),
    )
    assert api.client(HOLDER).delete(f"/v1/notifications/webhooks/{made['id']}").status_code == 204
    (dropped,) = api.client(HOLDER).get("/v1/notifications/deliveries").json()["items"]
    assert (dropped["status"], dropped["last_error"]) == ("dead", "the subscription was stopped")


def test_the_watch_tells_of_an_offline_robot_and_a_tamper_case_once(
    api: ApiHarness, tenants: None
) -> None:
    tenant = api.tenant("alpha")
    now = datetime.now(UTC)
    away = add_robot(api.session, tenant, serial_number="SN-AWAY")
    away.last_seen_at = now - timedelta(hours=3)
    here = add_robot(api.session, tenant, serial_number="SN-HERE", online=True)
    here.last_seen_at = now - timedelta(hours=3)  # online: not told
    recent = add_robot(api.session, tenant, serial_number="SN-RECENT")
    recent.last_seen_at = now - timedelta(minutes=5)  # not long enough
    api.session.add(
        ReviewCase(robot_id=here.id, category="tamper", reason="bad_signature", evidence=[])
    )
    api.session.add(ReviewCase(robot_id=here.id, category="conduct", reason="flood", evidence=[]))
    api.session.flush()
    assert watch.scan(api.session, now, timedelta(hours=1)) == 2
    assert watch.scan(api.session, now, timedelta(hours=1)) == 0  # told once
    told = {
        (n.event_type, n.payload["serial_number"])
        for n in api.session.scalars(select(Notification))
    }
    assert told == {("robot_offline", "SN-AWAY"), ("tamper_case_opened", "SN-HERE")}
    away.last_seen_at = now - timedelta(hours=2)  # it came back, and went away again
    api.session.flush()
    assert watch.scan(api.session, now, timedelta(hours=1)) == 1


def test_robots_told_long_ago_never_crowd_out_a_new_absence(api: ApiHarness, tenants: None) -> None:
    tenant = api.tenant("alpha")
    now = datetime.now(UTC)
    old = add_robot(api.session, tenant, serial_number="SN-OLD")
    old.last_seen_at = now - timedelta(days=30)
    api.session.flush()
    assert watch.scan(api.session, now, timedelta(hours=1), limit=1) == 1
    new = add_robot(api.session, tenant, serial_number="SN-NEW")
    new.last_seen_at = now - timedelta(hours=2)
    api.session.flush()
    assert watch.scan(api.session, now, timedelta(hours=1), limit=1) == 1  # not SN-OLD again
    told = [n.payload["serial_number"] for n in api.session.scalars(select(Notification))]
    assert sorted(told) == ["SN-NEW", "SN-OLD"]


def test_the_absence_scan_never_compares_every_robot_with_every_notification(
    api: ApiHarness, tenants: None
) -> None:
    """Thousands of robots offline, each told of already: the scan finds none to tell, and its
    plan, with the tables' statistics stale (as between autovacuum's runs) or fresh, never
    scans the notifications once per robot (1.8 s for 2,000 of each in the soak's database,
    quadratic: the (event_type, subject_id) index of migration 0016)."""
    tenant = api.tenant("alpha")
    now = datetime.now(UTC)
    for index in range(1500):
        robot = add_robot(api.session, tenant, serial_number=f"SN-{index:04d}")
        robot.last_seen_at = now - timedelta(hours=2, seconds=index)
    api.session.flush()
    assert watch.scan(api.session, now, timedelta(hours=1), limit=2000) == 1500
    assert watch.scan(api.session, now, timedelta(hours=1), limit=2000) == 0
    compiled = repository.offline_robots_query(now - timedelta(hours=1), 2000).compile(
        bind=api.session.get_bind(), compile_kwargs={"render_postcompile": True}
    )
    for statistics in ("stale", "fresh"):
        if statistics == "fresh":
            api.session.execute(text("ANALYZE robots, notifications"))
        rows = api.session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        plan = "\n".join(row[0] for row in rows)
        per_robot_scan = "Nested Loop" in plan and "Seq Scan on notifications" in plan
        assert not per_robot_scan, f"{statistics} statistics:\n{plan}"
