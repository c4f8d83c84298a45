"""The policies list on the real database: each policy with its current version and tenant,
and a page costs the same statements whatever its size (no query per policy)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud_api.access.roles import Role
from cloud_api.policies import service
from cloud_api.policies.schemas import CancellationCreate, CancelReason, CancelRequester
from tests.integration.api.policy_factories import issue_at
from tests.support.api import ApiHarness, principal

UNDERWRITER = principal(Role.UNDERWRITER)
TODAY = datetime.now(UTC).date()


def test_a_page_of_policies_shows_each_current_version_in_the_same_statements_at_any_size(
    api: ApiHarness,
) -> None:
    tenants = ("alpha", "beta", "gamma")
    policies = [issue_at(api, TODAY - timedelta(days=3), "monthly", t) for t in tenants * 2]
    cancelled = policies[1]
    body = CancellationCreate(
        effective_on=TODAY,
        reason_code=CancelReason.FLEET_SOLD,
        requested_by=CancelRequester.POLICYHOLDER,
    )
    service.cancel(api.session, UNDERWRITER, cancelled.id, body, datetime.now(UTC))
    client = api.client(UNDERWRITER)

    one, one_page = api.statements(lambda: client.get("/v1/policies", params={"limit": 1}))
    every, whole_page = api.statements(lambda: client.get("/v1/policies", params={"limit": 50}))
    assert one.status_code == every.status_code == 200
    assert len(one.json()["items"]) == 1
    assert whole_page == one_page  # not a query or two more per policy
    shown = {item["id"]: item for item in every.json()["items"]}
    assert set(shown) == {str(p.id) for p in policies}
    for policy, tenant in zip(policies, tenants * 2, strict=True):
        item = shown[str(policy.id)]
        assert item["tenant"] == tenant
        assert item["number"] == policy.number
        latest = service.current(api.session, policy)
        assert item["current"]["version_no"] == latest.version_no
        assert item["current"]["status"] == latest.status
    assert shown[str(cancelled.id)]["current"]["version_no"] == 3  # bound, issued, cancelled
    assert shown[str(cancelled.id)]["current"]["status"] == "cancelled"


def test_an_empty_page_of_policies_is_empty(api: ApiHarness) -> None:
    api.tenant("alpha")
    outsider = api.client(principal(Role.POLICYHOLDER, "alpha"))
    answer = outsider.get("/v1/policies")
    assert answer.status_code == 200
    assert answer.json()["items"] == []
