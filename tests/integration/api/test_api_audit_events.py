"""GET /v1/audit-events: the trail for auditors and admins, paged and filtered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from cloud_api.access.roles import Role
from cloud_api.audit import service as audit
from database.models import AuditEvent
from tests.support.api import ApiHarness, principal

AUDITOR = principal(Role.AUDITOR)


def _seed(api: ApiHarness) -> tuple[list[AuditEvent], uuid.UUID]:
    alpha, beta = api.tenant("alpha"), api.tenant("beta")
    actor = principal(Role.ADMIN)
    other = principal(Role.UNDERWRITER)
    events = [
        audit.record(
            api.session,
            actor,
            "robots:suspend",
            target_type="robot",
            target_id=uuid.uuid4(),
            tenant_id=alpha.id,
            detail={"reason": "r1"},
        ),
        audit.record(
            api.session,
            actor,
            "robots:reinstate",
            target_type="robot",
            target_id=uuid.uuid4(),
            tenant_id=alpha.id,
        ),
        audit.record(
            api.session,
            other,
            "robots:rescore",
            target_type="robot",
            target_id=uuid.uuid4(),
            tenant_id=beta.id,
        ),
        audit.record(
            api.session,
            actor,
            "tenants:create",
            target_type="tenant",
            target_id="gamma",
            tenant_id=None,
        ),
    ]
    return events, actor.id


def test_auditors_page_through_the_trail_newest_first(api: ApiHarness) -> None:
    events, _ = _seed(api)
    client = api.client(AUDITOR)
    ids: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": "1", "sort": "-id", **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/audit-events", params=params).json()
        ids += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None or len(ids) > 50:
            break
    mine = [e.id for e in events]
    assert [i for i in ids if i in mine] == sorted(mine, reverse=True)


def test_filters_narrow_the_trail(api: ApiHarness) -> None:
    events, actor_id = _seed(api)
    client = api.client(principal(Role.ADMIN))

    def ids(**params: str) -> set[int]:
        response = client.get("/v1/audit-events", params={"limit": "200", **params})
        assert response.status_code == 200, response.text
        return {e["id"] for e in response.json()["items"]}

    mine = {e.id for e in events}
    assert ids(actor_id=str(actor_id)) & mine == {events[0].id, events[1].id, events[3].id}
    assert ids(action="robots:rescore") & mine == {events[2].id}
    assert ids(target_type="tenant", target_id="gamma") & mine == {events[3].id}
    assert ids(tenant="alpha") & mine == {events[0].id, events[1].id}
    assert ids(tenant_id=str(events[2].tenant_id)) & mine == {events[2].id}
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert ids(since=later) & mine == set()
    assert ids(until=later) & mine == mine
    detail = client.get("/v1/audit-events", params={"action": "robots:suspend", "limit": "200"})
    assert {"reason": "r1"} in [e["detail"] for e in detail.json()["items"]]


def test_bad_filters_are_problems(api: ApiHarness) -> None:
    client = api.client(AUDITOR)
    assert client.get("/v1/audit-events", params={"actor_id": "nobody"}).status_code == 400
    assert client.get("/v1/audit-events", params={"since": "2026-01-01T00:00"}).status_code == 400
    assert client.get("/v1/audit-events", params={"password": "x"}).status_code == 400


def test_only_auditors_and_admins_read_the_trail(api: ApiHarness) -> None:
    for role in (Role.UNDERWRITER, Role.CLAIMS_ADJUSTER, Role.BILLING_AGENT):
        assert api.client(principal(role)).get("/v1/audit-events").status_code == 403
    holder = principal(Role.POLICYHOLDER, "alpha")
    assert api.client(holder).get("/v1/audit-events").status_code == 403
