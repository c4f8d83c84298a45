"""The audit trail as an auditor reads it: who, what, when, the request id of the write, and
what changed (``before`` and ``after`` of the changed fields; ``after`` of a creation). And the
trail cannot be altered: the database refuses UPDATE, DELETE and TRUNCATE of audit_events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cloud_api.access.roles import Role
from cloud_api.audit import service as audit
from cloud_api.conventions.request_ids import REQUEST_ID_HEADER
from database.models import AuditEvent, UserRole
from tests.integration.api.identity_support import create_user, seat_admin
from tests.support.api import ApiHarness, principal

ADMIN = principal(Role.ADMIN)
AUDITOR = principal(Role.AUDITOR)


@pytest.fixture
def api(api: ApiHarness) -> ApiHarness:
    """With ADMIN a user of the database (a service account records its creator)."""
    return seat_admin(api, ADMIN)


def _trail(api: ApiHarness, **filters: str) -> list[dict[str, Any]]:
    """The events an auditor reads through GET /v1/audit-events (the auditor's client is made
    last: the harness acts as the principal of its newest client)."""
    response = api.client(AUDITOR).get("/v1/audit-events", params={"limit": "200", **filters})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def _just_now(event: dict[str, Any]) -> bool:
    occurred = datetime.fromisoformat(event["occurred_at"])
    return abs(datetime.now(UTC) - occurred) < timedelta(minutes=5)


def test_an_auditor_reads_who_changed_a_user_when_and_what_it_was_before(
    api: ApiHarness,
) -> None:
    api.tenant("acme")
    user = create_user(api.session, UserRole.UNDERWRITER)
    client = api.client(ADMIN)
    etag = client.get(f"/v1/users/{user.id}").headers["etag"]
    change = {"role": "policyholder", "tenant": "acme", "full_name": "Now A Policyholder"}
    changed = client.patch(f"/v1/users/{user.id}", json=change, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    [event] = _trail(api, action="users:update", target_id=str(user.id))
    assert (event["actor_id"], event["actor_role"]) == (str(ADMIN.id), "admin")
    assert event["target_type"] == "user"
    assert event["tenant_id"] == str(api.tenant("acme").id)
    assert event["request_id"] == changed.headers[REQUEST_ID_HEADER]
    assert _just_now(event)
    assert event["detail"] == {
        "before": {
            "full_name": "A underwriter",
            "role": "underwriter",
            "tenant": None,
            "version": 1,
        },
        "after": {
            "full_name": "Now A Policyholder",
            "role": "policyholder",
            "tenant": "acme",
            "version": 2,
        },
    }


def test_an_auditor_reads_who_changed_a_tenant_when_and_what_it_was_before(
    api: ApiHarness,
) -> None:
    api.tenant("globex", "Globex")
    client = api.client(ADMIN)
    etag = client.get("/v1/tenants/globex").headers["etag"]
    changed = client.patch(
        "/v1/tenants/globex", json={"status": "suspended"}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    [event] = _trail(api, action="tenants:update", tenant="globex")
    assert (event["actor_id"], event["actor_role"]) == (str(ADMIN.id), "admin")
    assert (event["target_type"], event["target_id"]) == ("tenant", "globex")
    assert event["request_id"] == changed.headers[REQUEST_ID_HEADER]
    assert _just_now(event)
    # Only the field that changed: the name was not touched.
    assert event["detail"] == {"before": {"status": "active"}, "after": {"status": "suspended"}}


def test_a_change_that_changes_nothing_records_nothing(api: ApiHarness) -> None:
    api.tenant("initech", "Initech")
    client = api.client(ADMIN)
    etag = client.get("/v1/tenants/initech").headers["etag"]
    same = client.patch("/v1/tenants/initech", json={"name": "Initech"}, headers={"If-Match": etag})
    assert same.status_code == 200, same.text
    assert _trail(api, action="tenants:update", tenant="initech") == []


def test_creations_record_what_was_made(api: ApiHarness) -> None:
    client = api.client(ADMIN)
    tenant = client.post("/v1/tenants", json={"slug": "umbrella", "name": "Umbrella"})
    user = client.post(
        "/v1/users",
        json={
            "email": "holder@umbrella.test",
            "full_name": "A Holder",
            "role": "policyholder",
            "tenant": "umbrella",
        },
    )
    account = client.post("/v1/tenants/umbrella/service-accounts", json={"name": "sync"})
    key = client.post(
        f"/v1/tenants/umbrella/service-accounts/{account.json()['id']}/api-keys",
        json={"scopes": ["robots:read"], "expires_in_days": 30},
    )
    assert [r.status_code for r in (tenant, user, account, key)] == [201] * 4
    events = {e["action"]: e for e in _trail(api, tenant="umbrella")}
    assert events["tenants:create"]["detail"] == {
        "after": {"slug": "umbrella", "name": "Umbrella", "status": "active"}
    }
    assert events["users:create"]["detail"] == {
        "after": {
            "email": "holder@umbrella.test",
            "full_name": "A Holder",
            "role": "policyholder",
            "tenant": "umbrella",
        }
    }
    assert events["service_accounts:create"]["detail"] == {
        "after": {"name": "sync", "created_by": str(ADMIN.id)}
    }
    assert events["service_accounts:issue_key"]["detail"] == {
        "after": {
            "service_account": account.json()["id"],
            "scopes": ["robots:read"],
            "expires_at": _at(key.json()["expires_at"]).isoformat(),
        }
    }
    for created in (tenant, user, account, key):
        request_id = created.headers[REQUEST_ID_HEADER]
        assert request_id in {e["request_id"] for e in events.values()}


def test_disables_and_revocations_record_the_status_before_and_after(api: ApiHarness) -> None:
    api.tenant("hooli")
    user = create_user(api.session, UserRole.POLICYHOLDER, tenant="hooli")
    client = api.client(ADMIN)
    disabled = client.post(f"/v1/users/{user.id}/disable")
    account = client.post("/v1/tenants/hooli/service-accounts", json={"name": "sync"}).json()
    base = f"/v1/tenants/hooli/service-accounts/{account['id']}"
    key = client.post(f"{base}/api-keys", json={"scopes": ["robots:read"]}).json()
    revoked = client.post(f"{base}/api-keys/{key['id']}/revoke")
    closed = client.post(f"{base}/disable")
    assert [r.status_code for r in (disabled, revoked, closed)] == [200] * 3
    events = {e["action"]: e for e in _trail(api, tenant="hooli")}

    user_detail = events["users:disable"]["detail"]
    assert user_detail["before"] == {"disabled_at": None, "version": 1}
    assert user_detail["after"]["version"] == 2
    assert _at(user_detail["after"]["disabled_at"]) == _at(disabled.json()["disabled_at"])
    assert user_detail["sessions_ended"] == 0
    key_detail = events["service_accounts:revoke_key"]["detail"]
    assert key_detail["before"] == {"revoked_at": None}
    assert list(key_detail["after"]) == ["revoked_at"]
    assert _at(key_detail["after"]["revoked_at"]) == _at(revoked.json()["revoked_at"])
    account_detail = events["service_accounts:disable"]["detail"]
    assert account_detail["before"] == {"disabled_at": None}
    assert list(account_detail["after"]) == ["disabled_at"]
    assert _at(account_detail["after"]["disabled_at"]) == _at(closed.json()["disabled_at"])


def test_changes_names_only_what_differs_as_json_reads_it() -> None:
    moment = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert audit.changes({"a": 1, "b": "x"}, {"a": 1, "b": "y"}) == {
        "before": {"b": "x"},
        "after": {"b": "y"},
    }
    assert audit.changes({"at": None}, {"at": moment}) == {
        "before": {"at": None},
        "after": {"at": "2026-12-01T12:00:00+00:00"},
    }
    assert audit.changes({"role": "admin"}, {"role": UserRole.ADMIN}) == {}
    assert audit.created({"scopes": ("b", "a")}) == {"after": {"scopes": ["b", "a"]}}


def test_a_secret_in_before_or_after_is_refused(db_session: Session) -> None:
    detail = audit.changes({"password_hash": "old"}, {"password_hash": "new"})
    with pytest.raises(ValueError, match="looks like a secret"):
        audit.record(
            db_session,
            None,
            "users:update",
            target_type="user",
            target_id="u",
            tenant_id=None,
            detail=detail,
        )


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEvent).values(detail={"rewritten": True}),
        delete(AuditEvent),
        text("TRUNCATE audit_events"),
    ],
    ids=["update", "delete", "truncate"],
)
def test_the_trail_cannot_be_altered_through_the_apps_role(
    db_session: Session, statement: Any
) -> None:
    """The app's own connection (the role of ROBOCOVER_DATABASE_URL, as the API uses it) cannot
    rewrite or remove an event: migration 0006's trigger refuses the statement."""
    event = audit.record(
        db_session, None, "tenants:create", target_type="tenant", target_id="t", tenant_id=None
    )
    db_session.flush()
    with pytest.raises(DBAPIError) as refused, db_session.begin_nested():
        db_session.execute(statement)
    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
    assert "append-only" in str(refused.value.orig)
    db_session.expire_all()
    kept = db_session.get(AuditEvent, event.id)
    assert kept is not None
    assert kept.detail == {}
