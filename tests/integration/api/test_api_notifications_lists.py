"""The notifications' lists on the real database: each subscription with its tenant, each
delivery with its notification's event type; a page of either costs the same statements
whatever its size (no query per row)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import select

from cloud_api.access.roles import Role
from cloud_api.notifications.schemas import EventType
from cloud_api.notifications.service import notify
from database.models import Notification, NotificationDelivery
from tests.support.api import ApiHarness, principal

ADMIN = principal(Role.ADMIN)
TENANTS = ("alpha", "beta")
EVENTS = (EventType.POLICY_ISSUED, EventType.CLAIM_STATUS_CHANGED)


def test_pages_of_subscriptions_and_deliveries_cost_the_same_statements_at_any_size(
    api: ApiHarness,
) -> None:
    for tenant in TENANTS:
        api.tenant(tenant)
        holder = api.client(principal(Role.POLICYHOLDER, tenant))
        for hook in ("a", "b"):
            body = {"url": f"https://{tenant}.example.test/{hook}", "event_types": list(EVENTS)}
            assert holder.post("/v1/notifications/webhooks", json=body).status_code == 201
        for event in EVENTS:
            notify(
                api.session,
                tenant_id=api.tenant(tenant).id,
                event=event,
                subject=("policy", uuid.uuid4()),
                payload={"number": f"{tenant}-{event.value}"},
                now=datetime.now(UTC),
            )
    staff = api.client(ADMIN)
    # 2 tenants x 2 hooks; each hook is told both events (no policyholder has an email here)
    for path, rows in (("/v1/notifications/webhooks", 4), ("/v1/notifications/deliveries", 8)):
        one, one_page = api.statements(partial(staff.get, path, params={"limit": 1}))
        every, whole_page = api.statements(partial(staff.get, path, params={"limit": 50}))
        assert one.status_code == every.status_code == 200, path
        assert len(one.json()["items"]) == 1
        assert len(every.json()["items"]) == rows, path
        assert whole_page == one_page, path  # not a query more per row

    subscriptions = staff.get("/v1/notifications/webhooks", params={"limit": 50}).json()["items"]
    assert sorted((s["tenant"], s["url"].rsplit("/", 1)[-1]) for s in subscriptions) == [
        (tenant, hook) for tenant in TENANTS for hook in ("a", "b")
    ]
    assert all(s["url"].startswith(f"https://{s['tenant']}.") for s in subscriptions)
    deliveries = staff.get("/v1/notifications/deliveries", params={"limit": 50}).json()["items"]
    told = dict(
        api.session.execute(
            select(NotificationDelivery.id, Notification.event_type).join(
                Notification, Notification.id == NotificationDelivery.notification_id
            )
        ).all()
    )
    assert {d["id"]: d["event_type"] for d in deliveries} == {str(k): v for k, v in told.items()}
    assert {d["event_type"] for d in deliveries} == {e.value for e in EVENTS}
