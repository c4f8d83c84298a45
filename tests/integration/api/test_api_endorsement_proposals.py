"""Risk-driven endorsement proposals on the real database: when an insured robot's premium
moves, its policy gets one proposal for its next billing period with the lines that moved and
their reasons; an underwriter approves it (the policy is endorsed from that day, pro rata) or
declines it; a small change is approved by the job; running the job again proposes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud_api.access.roles import Role
from cloud_api.ledger.calendar import add_months
from cloud_api.ledger.earning import Term, endorsement_premium
from cloud_api.policies import proposals
from database.models import Robot
from tests.integration.api.policy_factories import active_product, add_score, fleet, plan_in_force
from tests.support.api import ApiHarness, principal

UNDERWRITER = principal(Role.UNDERWRITER)
TODAY = datetime.now(UTC).date()


@pytest.fixture
def insured(api: ApiHarness) -> tuple[dict[str, Any], list[Robot], int]:
    """A quarterly policy of two scored robots, issued today."""
    version = plan_in_force(api.session)
    product = active_product(api.session)
    robots = fleet(api.session, api.tenant("alpha"), version, [1000.0, 800.0])
    client = api.client(UNDERWRITER)
    quote = client.post(
        "/v1/quotes",
        json={
            "tenant": "alpha",
            "product_id": str(product.id),
            "robot_ids": [str(r.id) for r in robots],
            "jurisdiction": "DE",
            "term_start": str(TODAY),
        },
    ).json()
    bound = client.post(f"/v1/quotes/{quote['id']}/bind", json={"installments": "quarterly"})
    policy = client.post(f"/v1/policies/{bound.json()['id']}/issue").json()
    return policy, robots, version


def proposals_of(client: TestClient, policy_id: str) -> list[dict[str, Any]]:
    page = client.get("/v1/endorsement-proposals", params={"policy_id": policy_id})
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def test_a_moved_premium_is_proposed_once_for_the_next_period_and_approved(
    api: ApiHarness, insured: tuple[dict[str, Any], list[Robot], int]
) -> None:
    policy, robots, version = insured
    add_score(api.session, robots[0], version, 2000.0)  # the first robot's premium doubles
    now = datetime.now(UTC)
    assert proposals.propose_all(api.session, now, 100) == 1
    assert proposals.propose_all(api.session, now, 100) == 0  # one per policy and period
    client = api.client(UNDERWRITER)
    (proposal,) = proposals_of(client, policy["id"])
    assert proposal["status"] == "proposed"
    assert date.fromisoformat(proposal["effective_on"]) == add_months(TODAY, 3)
    assert {line["robot_id"] for line in proposal["lines"]} == {str(robots[0].id)}
    assert all(line["reasons"][0]["factor"] == "collision_rate" for line in proposal["lines"])
    for line in proposal["lines"]:
        assert line["proposed_premium_minor"] > line["premium_minor"]
    approved = client.post(f"/v1/endorsement-proposals/{proposal['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    current = client.get(f"/v1/policies/{policy['id']}").json()["current"]
    assert current["transition"] == "endorse"
    assert current["reason_code"] == "risk_change"
    assert current["term_premium_minor"] == proposal["proposed_term_premium_minor"]
    term = Term(
        date.fromisoformat(policy["term_start"][:10]), date.fromisoformat(policy["term_end"][:10])
    )
    change = proposal["proposed_term_premium_minor"] - proposal["term_premium_minor"]
    assert current["premium_change_minor"] == endorsement_premium(
        change, term, date.fromisoformat(proposal["effective_on"])
    )
    assert client.post(f"/v1/endorsement-proposals/{proposal['id']}/approve").status_code == 409


def test_a_declined_proposal_changes_nothing_and_a_small_one_is_approved_by_the_job(
    api: ApiHarness, insured: tuple[dict[str, Any], list[Robot], int]
) -> None:
    policy, robots, version = insured
    add_score(api.session, robots[1], version, 1600.0)
    proposals.propose_all(api.session, datetime.now(UTC), 100)
    client = api.client(UNDERWRITER)
    (proposal,) = proposals_of(client, policy["id"])
    declined = client.post(f"/v1/endorsement-proposals/{proposal['id']}/decline")
    assert declined.json()["status"] == "declined"
    assert client.get(f"/v1/policies/{policy['id']}").json()["current"]["transition"] == "issue"
    holder = api.client(principal(Role.POLICYHOLDER, "alpha"))
    assert holder.get("/v1/endorsement-proposals").status_code == 403


def test_a_change_within_the_threshold_is_approved_without_an_underwriter(
    api: ApiHarness, insured: tuple[dict[str, Any], list[Robot], int]
) -> None:
    policy, robots, version = insured
    add_score(api.session, robots[0], version, 1010.0)  # +1 % on one robot: under 5 %
    proposal = proposals.propose(api.session, uuid.UUID(policy["id"]), datetime.now(UTC))
    assert proposal is not None
    assert proposal.auto_approved is True
    assert proposal.status == "approved"
    assert proposal.decided_by == "auto"
    current = api.client(UNDERWRITER).get(f"/v1/policies/{policy['id']}").json()["current"]
    assert current["transition"] == "endorse"
    assert current["term_premium_minor"] == proposal.proposed_term_premium_minor
