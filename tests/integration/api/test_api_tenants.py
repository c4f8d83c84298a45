"""/v1/tenants: created and changed by admins (audited, If-Match on changes), read by staff
the permission table lets read them."""

from __future__ import annotations

from sqlalchemy import select

from cloud_api.access.roles import Role
from database.models import AuditEvent, Tenant
from tests.support.api import ApiHarness, principal

ADMIN = principal(Role.ADMIN)


def test_an_admin_creates_a_tenant_and_the_trail_says_who(api: ApiHarness) -> None:
    client = api.client(ADMIN)
    response = client.post("/v1/tenants", json={"slug": "northwind", "name": "Northwind Robotics"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["slug"], body["name"], body["status"]) == (
        "northwind",
        "Northwind Robotics",
        "active",
    )
    assert response.headers["location"] == "/v1/tenants/northwind"
    assert response.headers["etag"].startswith('W/"')
    tenant = api.session.scalars(select(Tenant).where(Tenant.slug == "northwind")).one()
    event = api.session.scalars(select(AuditEvent).where(AuditEvent.target_type == "tenant")).one()
    assert (event.action, event.actor_id, event.tenant_id) == (
        "tenants:create",
        ADMIN.id,
        tenant.id,
    )


def test_slugs_follow_the_databases_rule_and_are_unique(api: ApiHarness) -> None:
    client = api.client(ADMIN)
    for slug in ("Upper", "-dash", "x" * 33, "sp ace", ""):
        response = client.post("/v1/tenants", json={"slug": slug, "name": "N"})
        assert response.status_code == 422, slug
        assert response.headers["content-type"] == "application/problem+json"
    assert client.post("/v1/tenants", json={"slug": "a" * 32, "name": "Longest"}).status_code == 201
    assert client.post("/v1/tenants", json={"slug": "dup", "name": "One"}).status_code == 201
    again = client.post("/v1/tenants", json={"slug": "dup", "name": "Two"})
    assert again.status_code == 409
    # The refused insert did not spoil the request's transaction for what follows.
    assert client.get("/v1/tenants/dup").json()["name"] == "One"


def test_staff_page_through_tenants_by_slug(api: ApiHarness) -> None:
    for slug in ("t-a", "t-b", "t-c"):
        api.tenant(slug)
    client = api.client(principal(Role.AUDITOR))
    first = client.get("/v1/tenants", params={"limit": "2"}).json()
    rest = client.get("/v1/tenants", params={"limit": "200", "cursor": first["next_cursor"]}).json()
    slugs = [t["slug"] for t in first["items"] + rest["items"]]
    assert slugs == sorted(slugs)
    assert {"t-a", "t-b", "t-c"} <= set(slugs)
    assert len(slugs) == len(set(slugs))
    assert client.get("/v1/tenants/t-b").json()["slug"] == "t-b"
    assert client.get("/v1/tenants/nope").status_code == 404
    suspended = client.get("/v1/tenants", params={"status": "suspended", "limit": "200"}).json()
    assert all(t["status"] == "suspended" for t in suspended["items"])


def test_a_change_needs_the_current_etag(api: ApiHarness) -> None:
    tenant = api.tenant("acme")
    client = api.client(ADMIN)
    etag = client.get("/v1/tenants/acme").headers["etag"]
    missing = client.patch("/v1/tenants/acme", json={"name": "Acme Ltd"})
    assert missing.status_code == 428
    stale = client.patch(
        "/v1/tenants/acme", json={"name": "Acme Ltd"}, headers={"If-Match": 'W/"0"'}
    )
    assert stale.status_code == 412
    changed = client.patch(
        "/v1/tenants/acme",
        json={"name": "Acme Ltd", "status": "suspended"},
        headers={"If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["status"]) == ("Acme Ltd", "suspended")
    assert changed.headers["etag"] != etag
    reused = client.patch("/v1/tenants/acme", json={"name": "Other"}, headers={"If-Match": etag})
    assert reused.status_code == 412
    event = api.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "tenants:update")
    ).one()
    assert event.tenant_id == tenant.id
    assert event.detail == {
        "before": {"name": "Acme", "status": "active"},
        "after": {"name": "Acme Ltd", "status": "suspended"},
    }
    assert (
        client.patch(
            "/v1/tenants/acme", json={"status": "closed"}, headers={"If-Match": etag}
        ).status_code
        == 422
    )


def test_a_suspended_tenant_registers_no_robots(api: ApiHarness) -> None:
    tenant = api.tenant("paused")
    tenant.status = "suspended"
    api.session.flush()
    body = {"serial_number": "S1", "robot_class": "cobot", "manufacturer": "A", "model": "B"}
    response = api.client(principal(Role.POLICYHOLDER, "paused")).post("/v1/robots", json=body)
    assert response.status_code == 409
