"""/v1/quotes and /v1/policies on the real database: quotes priced from the robots' latest
risk scores (or their class's reference premium), bound, issued with a number, a schedule and
the premium written to a balanced ledger; endorsed pro rata, cancelled pro rata or short rate,
reinstated; what was in force at an instant; refusals as problem details."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud_api.access.roles import Role
from cloud_api.errors import UnprocessableError
from cloud_api.ledger import repository as ledger
from cloud_api.ledger.money import basis_points, share, to_minor
from cloud_api.policies import changes, service
from cloud_api.policies.pricing import coverage_shares, reference_premium
from database.models import Account, AuditEvent, LedgerEntry, Product, Robot
from risk_engine.plans.default import starter_plan
from tests.integration.api.policy_factories import TAX_BP, active_product, fleet, plan_in_force
from tests.support.api import ApiHarness, principal

UNDERWRITER = principal(Role.UNDERWRITER)
TODAY = datetime.now(UTC).date()


@pytest.fixture
def setup(api: ApiHarness) -> tuple[Product, list[Robot], int]:
    version = plan_in_force(api.session)
    product = active_product(api.session)
    robots = fleet(api.session, api.tenant("alpha"), version, [1200.0, 800.0, None])
    return product, robots, version


def quote(client: TestClient, product: Product, robots: list[Robot], **extra: Any) -> Any:
    body = {
        "tenant": "alpha",
        "product_id": str(product.id),
        "robot_ids": [str(r.id) for r in robots],
        "jurisdiction": "DE",
        "term_start": TODAY.isoformat(),
        **extra,
    }
    response = client.post("/v1/quotes", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def issued(client: TestClient, quote_id: str) -> Any:
    bound = client.post(f"/v1/quotes/{quote_id}/bind")
    assert bound.status_code == 201, bound.text
    assert bound.json()["status"] == "bound"
    response = client.post(f"/v1/policies/{bound.json()['id']}/issue")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_quote_prices_each_robot_and_coverage_from_its_score_or_its_class(
    api: ApiHarness, setup: tuple[Product, list[Robot], int]
) -> None:
    product, robots, version = setup
    body = quote(api.client(UNDERWRITER), product, robots)
    plan = starter_plan(datetime.now(UTC))
    days = (
        body["term_end"][:10]
        and (
            date.fromisoformat(body["term_end"][:10]) - date.fromisoformat(body["term_start"][:10])
        ).days
    )
    assert days in {365, 366}
    assert len(body["lines"]) == 6
    for line in body["lines"]:
        robot = next(r for r in robots if str(r.id) == line["robot_id"])
        plan_coverage = {"breakdown": "machinery_breakdown", "liability": "third_party_liability"}
        share_of = coverage_shares(plan, robot.robot_class)[plan_coverage[line["coverage"]]]
        if robot is robots[2]:
            annual = reference_premium(plan, robot.robot_class)
            assert line["source"] == "class_reference"
            assert line["score_id"] is None
        else:
            annual = 1200.0 if robot is robots[0] else 800.0
            assert line["source"] == "score"
            assert line["explanation"]["reasons"][0]["factor"] == "collision_rate"
        assert line["explanation"]["plan_version"] == version
        assert line["premium_minor"] == to_minor(annual * share_of * days / 365, "EUR")
    premium = sum(line["premium_minor"] for line in body["lines"])
    assert body["premium_minor"] == premium
    assert body["tax_minor"] == basis_points(premium, TAX_BP)
    assert body["total_minor"] == premium + body["tax_minor"]
    assert body["status"] == "open"


def test_quotes_refuse_what_cannot_be_priced(
    api: ApiHarness, setup: tuple[Product, list[Robot], int]
) -> None:
    product, robots, version = setup
    other = fleet(api.session, api.tenant("beta"), version, [500.0])
    client = api.client(UNDERWRITER)
    base = {"product_id": str(product.id), "jurisdiction": "DE", "term_start": str(TODAY)}
    stranger = {**base, "tenant": "alpha", "robot_ids": [str(other[0].id)]}
    assert client.post("/v1/quotes", json=stranger).status_code == 404
    untaxed = {**base, "tenant": "alpha", "robot_ids": [str(robots[0].id)], "jurisdiction": "IT"}
    assert client.post("/v1/quotes", json=untaxed).status_code == 422
    unnamed = {**base, "robot_ids": [str(robots[0].id)]}
    assert client.post("/v1/quotes", json=unnamed).status_code == 422
    twice = {**base, "tenant": "alpha", "robot_ids": [str(robots[0].id)] * 2}
    assert client.post("/v1/quotes", json=twice).status_code == 422
    holder = api.client(principal(Role.POLICYHOLDER, "alpha"))
    own = {**base, "robot_ids": [str(robots[0].id)]}
    assert holder.post("/v1/quotes", json=own).status_code == 201
    assert holder.post("/v1/quotes", json={**own, "tenant": "beta"}).status_code == 404


def test_issue_numbers_the_policy_and_writes_its_premium_to_a_balanced_ledger(
    api: ApiHarness, setup: tuple[Product, list[Robot], int]
) -> None:
    product, robots, _ = setup
    client = api.client(UNDERWRITER)
    offer = quote(client, product, robots)
    policy = issued(client, offer["id"])
    assert policy["status"] == "in_force"
    assert policy["number"].startswith(f"RC-{TODAY.year}-")
    assert policy["allowed_transitions"] == ["endorse", "renew", "cancel", "lapse", "expire"]
    balances = ledger.balances(api.session, policy_id=policy["id"])
    premium, tax = offer["premium_minor"], offer["tax_minor"]
    assert balances[(Account.PREMIUM_RECEIVABLE, "EUR")] == premium + tax
    assert balances[(Account.UNEARNED_PREMIUM, "EUR")] == -premium
    assert balances[(Account.PREMIUM_TAX_PAYABLE, "EUR")] == -tax
    assert balances[(Account.WRITTEN_PREMIUM, "EUR")] == -premium
    again = client.post(f"/v1/quotes/{offer['id']}/bind")
    assert again.status_code == 409
    schedule = client.get(f"/v1/policies/{policy['id']}/schedule")
    assert schedule.status_code == 200
    assert schedule.headers["content-type"].startswith("text/html")
    assert policy["number"] in schedule.text
    assert robots[2].serial_number in schedule.text
    pdf = client.get(f"/v1/policies/{policy['id']}/schedule", params={"format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")


def test_an_illegal_transition_is_a_409_naming_the_allowed_ones(
    api: ApiHarness, setup: tuple[Product, list[Robot], int]
) -> None:
    product, robots, _ = setup
    client = api.client(UNDERWRITER)
    bound = client.post(f"/v1/quotes/{quote(client, product, robots)['id']}/bind").json()
    refused = client.post(f"/v1/policies/{bound['id']}/reinstate", json={"note": "why not"})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["allowed"] == ["issue", "cancel"]
    assert refused.json()["policy_status"] == "bound"


def test_an_endorsement_changes_premium_pro_rata_and_the_past_stays_as_it_was(
    api: ApiHarness, setup: tuple[Product, list[Robot], int]
) -> None:
    product, robots, version = setup
    client = api.client(UNDERWRITER)
    offer = quote(client, product, robots[:2], term_start=str(TODAY - timedelta(days=10)))
    policy = issued(client, offer["id"])
    assert policy["current"]["backdated"] is True
    added = fleet(api.session, api.tenant("alpha"), version, [2000.0])[0]
    response = client.post(
        f"/v1/policies/{policy['id']}/endorsements",
        json={
            "effective_on": str(TODAY),
            "add_robots": [str(added.id)],
            "remove_robots": [str(robots[1].id)],
            "coverage_changes": [{"coverage": "breakdown", "deductible_minor": 100_000}],
        },
    )
    assert response.status_code == 200, response.text
    current = response.json()["current"]
    term_days = (
        date.fromisoformat(policy["term_end"][:10]) - date.fromisoformat(policy["term_start"][:10])
    ).days
    change_in_term = current["term_premium_minor"] - policy["current"]["term_premium_minor"]
    assert current["premium_change_minor"] == share(change_in_term, term_days - 10, term_days)
    assert {line["robot_id"] for line in current["schedule"]} == {str(robots[0].id), str(added.id)}
    assert {
        line["deductible_minor"] for line in current["schedule"] if line["coverage"] == "breakdown"
    } == {100_000}
    before = client.get(
        f"/v1/policies/{policy['id']}/in-force",
        params={"at": (datetime.now(UTC) - timedelta(days=5)).isoformat()},
    ).json()
    assert before["in_force"] is True
    assert {x["robot_id"] for x in before["version"]["schedule"]} == {str(r.id) for r in robots[:2]}
    earlier = client.get(
        f"/v1/policies/{policy['id']}/in-force",
        params={"at": (datetime.now(UTC) - timedelta(days=11)).isoformat()},
    ).json()
    assert earlier["in_force"] is False
    versions = client.get(f"/v1/policies/{policy['id']}/versions").json()
    assert [v["transition"] for v in versions] == ["bind", "issue", "endorse"]


@pytest.mark.parametrize(
    ("requested_by", "method_kept_bp"), [("insurer", 0), ("policyholder", 1000)]
)
def test_cancellation_returns_the_unearned_premium_and_reinstatement_writes_it_again(
    api: ApiHarness,
    setup: tuple[Product, list[Robot], int],
    requested_by: str,
    method_kept_bp: int,
) -> None:
    product, robots, _ = setup
    client = api.client(UNDERWRITER)
    offer = quote(client, product, robots, term_start=str(TODAY - timedelta(days=20)))
    policy = issued(client, offer["id"])
    premium = offer["premium_minor"]
    term_days = (
        date.fromisoformat(policy["term_end"][:10]) - date.fromisoformat(policy["term_start"][:10])
    ).days
    cancelled = client.post(
        f"/v1/policies/{policy['id']}/cancel",
        json={
            "effective_on": str(TODAY),
            "reason_code": "fleet_sold",
            "requested_by": requested_by,
        },
    )
    assert cancelled.status_code == 200, cancelled.text
    version = cancelled.json()["current"]
    unearned = premium - share(premium, 20, term_days)
    kept = basis_points(unearned, method_kept_bp)
    assert version["premium_change_minor"] == -(unearned - kept)
    assert cancelled.json()["allowed_transitions"] == ["reinstate"]
    balances = ledger.balances(api.session, policy_id=policy["id"])
    assert balances[(Account.WRITTEN_PREMIUM, "EUR")] == -(premium - unearned + kept)
    reinstated = client.post(f"/v1/policies/{policy['id']}/reinstate", json={"note": "error"})
    assert reinstated.status_code == 200, reinstated.text
    assert reinstated.json()["status"] == "in_force"
    balances = ledger.balances(api.session, policy_id=policy["id"])
    assert balances[(Account.WRITTEN_PREMIUM, "EUR")] == -premium
    assert balances[(Account.PREMIUM_RECEIVABLE, "EUR")] == premium + offer["tax_minor"]
    actions = [
        e.action for e in api.session.query(AuditEvent).filter(AuditEvent.target_id == policy["id"])
    ]
    assert actions[-2:] == ["policies:cancel", "policies:reinstate"]


def test_earning_again_the_same_day_after_a_backdated_cancellation_posts_the_difference(
    api: ApiHarness, setup: tuple[Product, list[Robot], int]
) -> None:
    product, robots, _ = setup
    client = api.client(UNDERWRITER)
    offer = quote(client, product, robots, term_start=str(TODAY - timedelta(days=20)))
    policy = issued(client, offer["id"])
    policy_id, premium = uuid.UUID(policy["id"]), offer["premium_minor"]
    term_days = (
        date.fromisoformat(policy["term_end"][:10]) - date.fromisoformat(policy["term_start"][:10])
    ).days
    now = datetime.now(UTC)
    assert changes.earn(api.session, policy_id, now) == share(premium, 20, term_days)
    assert changes.earn(api.session, policy_id, now) == 0  # the same day again: nothing
    cancelled = client.post(
        f"/v1/policies/{policy_id}/cancel",
        json={
            "effective_on": str(TODAY - timedelta(days=5)),
            "reason_code": "fleet_sold",
            "requested_by": "insurer",
        },
    )
    assert cancelled.status_code == 200, cancelled.text
    # Cover stopped five days ago: the five days earned since are given back, the same day,
    # under a reference of its own (the earned-to-date it started from), not refused.
    assert changes.earn(api.session, policy_id, now) == -(
        share(premium, 20, term_days) - share(premium, 15, term_days)
    )
    assert changes.earn(api.session, policy_id, now) == 0
    references = api.session.scalars(
        select(LedgerEntry.reference)
        .where(LedgerEntry.policy_id == policy_id, LedgerEntry.kind == "premium_earned")
        .order_by(LedgerEntry.id)
    ).all()
    through = TODAY - timedelta(days=1)
    assert references == [
        f"earn:{policy_id}:{through}:v2:0",
        f"earn:{policy_id}:{through}:v3:{share(premium, 20, term_days)}",
    ]
    balances = ledger.balances(api.session, policy_id=policy_id)
    assert -balances[(Account.EARNED_PREMIUM, "EUR")] == share(premium, 15, term_days)


def test_backdating_beyond_the_products_window_is_refused(
    api: ApiHarness, setup: tuple[Product, list[Robot], int]
) -> None:
    product, robots, _ = setup
    client = api.client(UNDERWRITER)
    body = {
        "tenant": "alpha",
        "product_id": str(product.id),
        "robot_ids": [str(robots[0].id)],
        "jurisdiction": "DE",
    }
    old = client.post("/v1/quotes", json={**body, "term_start": str(TODAY - timedelta(days=31))})
    assert old.status_code == 422
    assert "backdating" in old.json()["detail"]
    far = client.post("/v1/quotes", json={**body, "term_start": "9999-12-31"})
    assert far.status_code == 422
    # Quoted within the window, issued after it passed: refused at issue.
    offer = quote(client, product, robots[:1], term_start=str(TODAY - timedelta(days=30)))
    policy = client.post(f"/v1/quotes/{offer['id']}/bind").json()
    later = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(UnprocessableError, match="backdating"):
        service.issue(api.session, UNDERWRITER, uuid.UUID(policy["id"]), later)
    naive = client.get(f"/v1/policies/{policy['id']}/in-force", params={"at": "2026-01-01T00:00"})
    assert naive.status_code == 422


def test_another_tenants_policy_does_not_exist_for_a_policyholder(
    api: ApiHarness, setup: tuple[Product, list[Robot], int]
) -> None:
    product, robots, _ = setup
    policy = issued(api.client(UNDERWRITER), quote(api.client(UNDERWRITER), product, robots)["id"])
    api.tenant("beta")
    outsider = api.client(principal(Role.POLICYHOLDER, "beta"))
    for path in ("", "/versions", "/schedule"):
        assert outsider.get(f"/v1/policies/{policy['id']}{path}").status_code == 404
    assert outsider.get("/v1/policies").json()["items"] == []
    insider = api.client(principal(Role.POLICYHOLDER, "alpha"))
    assert [p["id"] for p in insider.get("/v1/policies").json()["items"]] == [policy["id"]]


def test_a_renewal_is_offered_once_and_an_endorsement_names_a_robot_once(
    api: ApiHarness, setup: tuple[Product, list[Robot], int]
) -> None:
    product, robots, _ = setup
    client = api.client(UNDERWRITER)
    policy = issued(client, quote(client, product, robots[:1])["id"])
    renewal = client.post(f"/v1/policies/{policy['id']}/renew", json={})
    assert renewal.status_code == 201, renewal.text
    assert renewal.json()["renewal_of"] == policy["id"]
    assert renewal.json()["term_start"] == policy["term_end"]
    again = client.post(f"/v1/policies/{policy['id']}/renew", json={})
    assert again.status_code == 409
    twice = {"effective_on": str(TODAY), "add_robots": [str(robots[1].id)] * 2}
    assert client.post(f"/v1/policies/{policy['id']}/endorsements", json=twice).status_code == 422
