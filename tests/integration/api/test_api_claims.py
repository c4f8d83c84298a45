"""/v1/claims on the real database: first notice of loss checked against the policy version in
force at the time of loss, triage, assignment, reserves by cost type, approval with the
deductible, limit and aggregate applied, payment, recovery, close and reopen; the ledger's
claim accounts after each; what the policyholder sees and does not; refusals as problem
details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud_api.access.roles import Role
from cloud_api.ledger import repository as ledger
from database.models import Account, AuditEvent, Claim
from tests.integration.api.claim_factories import InsuredFleet, adjuster, insured_fleet
from tests.support.api import ApiHarness, principal

ADJUSTER = principal(Role.CLAIMS_ADJUSTER)
HOLDER = principal(Role.POLICYHOLDER, "alpha")
OTHER_HOLDER = principal(Role.POLICYHOLDER, "beta")
NOW = datetime.now(UTC)


@pytest.fixture
def insured(api: ApiHarness) -> InsuredFleet:
    api.tenant("beta")
    return insured_fleet(api)


def report(client: TestClient, robot_id: object, **extra: Any) -> Any:
    body = {
        "robot_id": str(robot_id),
        "coverage": "breakdown",
        "loss_at": (NOW - timedelta(days=3)).isoformat(),
        "description": "The arm hit the fence during a pick and its gearbox seized.",
        **extra,
    }
    return client.post("/v1/claims", json=body)


def reported(client: TestClient, robot_id: object, **extra: Any) -> Any:
    response = report(client, robot_id, **extra)
    assert response.status_code == 201, response.text
    return response.json()


def post(client: TestClient, claim: Any, action: str, body: dict[str, Any]) -> Any:
    response = client.post(f"/v1/claims/{claim['id']}/{action}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def claim_balances(api: ApiHarness, insured: InsuredFleet) -> dict[str, int]:
    balances = ledger.balances(api.session, policy_id=insured.policy.id)
    accounts = (
        Account.CLAIMS_INCURRED,
        Account.CLAIM_RESERVES,
        Account.CLAIM_RECOVERIES,
        Account.CASH,
    )
    return {a.value: balances.get((a, "EUR"), 0) for a in accounts}


def test_first_notice_by_the_policyholder_is_checked_against_the_version_in_force(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    response = report(api.client(HOLDER), insured.robots[0].id, estimated_loss_minor=420_000)
    assert response.status_code == 201, response.text
    claim = response.json()
    assert response.headers["Location"] == f"/v1/claims/{claim['id']}"
    assert claim["number"].startswith(f"CL-{NOW.year}-")
    assert claim["status"] == "reported"
    assert claim["policy_id"] == str(insured.policy.id)
    assert claim["tenant"] == "alpha"
    check = claim["coverage_check"]
    assert check == {
        "covered": True,
        "version_no": 2,  # bound (1), issued (2)
        "limit_minor": 5_000_000,
        "deductible_minor": 50_000,
        "aggregate_minor": 10_000_000,
        "aggregate_used_minor": 0,
        "reasons": [],
    }
    assert claim["reserves"] is None  # the insurer's figures are not the policyholder's
    assert claim["incurred_minor"] is None
    assert claim["allowed_transitions"] == ["triage", "deny", "withdraw"]
    events = api.client(HOLDER).get(f"/v1/claims/{claim['id']}/events").json()
    assert [(e["kind"], e["detail"]) for e in events] == [("reported", {"covered": True})]
    audited = api.session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == claim["id"])
    ).all()
    assert audited == ["claims:create"]


def test_a_loss_before_the_term_or_on_an_unscheduled_coverage_is_recorded_not_covered(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    client = api.client(ADJUSTER)
    before = insured.term_start - timedelta(hours=1)
    early = reported(client, insured.robots[0].id, loss_at=before.isoformat())
    assert early["coverage_check"]["covered"] is False
    assert [r["code"] for r in early["coverage_check"]["reasons"]] == [
        "loss_before_term",
        "no_version",
    ]
    unknown = reported(client, insured.robots[1].id, coverage="cyber")
    assert [r["code"] for r in unknown["coverage_check"]["reasons"]] == ["coverage_not_scheduled"]
    refused = client.post(f"/v1/claims/{unknown['id']}/approve", json={"agreed_loss_minor": 1})
    assert refused.status_code == 409
    assert "not covered (coverage_not_scheduled)" in refused.json()["detail"]


def test_first_notice_refusals(api: ApiHarness, insured: InsuredFleet) -> None:
    holder = api.client(HOLDER)
    uninsured = report(holder, insured.robots[2].id)
    assert uninsured.status_code == 422
    assert "on no issued policy" in uninsured.json()["detail"]
    future = report(holder, insured.robots[0].id, loss_at=(NOW + timedelta(hours=2)).isoformat())
    assert future.status_code == 422
    naive = report(holder, insured.robots[0].id, loss_at="2026-01-01T10:00:00")
    assert naive.status_code == 422  # a time without its offset is ambiguous
    foreign = report(api.client(OTHER_HOLDER), insured.robots[0].id)
    assert foreign.status_code == 404  # another tenant's robot does not exist for it
    assert report(holder, insured.robots[0].id, estimated_loss_minor=-1).status_code == 422


def test_another_tenants_claim_does_not_exist_for_a_policyholder(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    claim = reported(api.client(HOLDER), insured.robots[0].id)
    other = api.client(OTHER_HOLDER)
    assert other.get(f"/v1/claims/{claim['id']}").status_code == 404
    assert other.get(f"/v1/claims/{claim['id']}/events").status_code == 404
    assert other.post(f"/v1/claims/{claim['id']}/withdraw", json={"note": "x"}).status_code == 404
    assert other.get("/v1/claims").json()["items"] == []
    assert [c["id"] for c in api.client(HOLDER).get("/v1/claims").json()["items"]] == [claim["id"]]


def test_a_claim_from_notice_to_payment_recovery_close_and_reopen(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    holder, staff = api.client(HOLDER), api.client(ADJUSTER)
    claim = reported(holder, insured.robots[0].id)
    claim = post(staff, claim, "triage", {"severity": "high", "note": "gearbox"})
    assert (claim["status"], claim["severity"], claim["fast_track"]) == ("triaged", "high", False)
    assigned_to = adjuster(api.session)
    claim = post(staff, claim, "assign", {"adjuster_id": str(assigned_to.id)})
    assert (claim["status"], claim["adjuster_id"]) == ("under_review", str(assigned_to.id))
    post(staff, claim, "reserves", {"cost_type": "repair", "amount_minor": 300_000})
    claim = post(staff, claim, "reserves", {"cost_type": "expenses", "amount_minor": 20_000})
    assert claim["reserves"] == [
        {"cost_type": "expenses", "amount_minor": 20_000},
        {"cost_type": "repair", "amount_minor": 300_000},
    ]
    assert claim["incurred_minor"] == 320_000
    assert claim_balances(api, insured)["claims_incurred"] == 320_000
    assert claim_balances(api, insured)["claim_reserves"] == -320_000

    claim = post(staff, claim, "approve", {"agreed_loss_minor": 400_000})
    assert (claim["status"], claim["payable_minor"]) == ("approved", 350_000)  # less 50,000
    cash_before = claim_balances(api, insured)["cash"]
    claim = post(staff, claim, "pay", {"bank_reference": "TR-2026-0042"})
    assert (claim["status"], claim["paid_minor"], claim["reserves"]) == ("paid", 350_000, [])
    assert claim["incurred_minor"] == 350_000
    balances = claim_balances(api, insured)
    assert balances["claims_incurred"] == 350_000  # 320,000 reserved + 30,000 paid over it
    assert balances["claim_reserves"] == 0
    assert balances["cash"] - cash_before == -350_000

    claim = post(staff, claim, "recoveries", {"amount_minor": 100_000, "source": "Integrator"})
    assert claim["recovered_minor"] == 100_000
    too_much = staff.post(
        f"/v1/claims/{claim['id']}/recoveries", json={"amount_minor": 250_001, "source": "x"}
    )
    assert too_much.status_code == 422
    assert claim_balances(api, insured)["claim_recoveries"] == -100_000

    claim = post(staff, claim, "close", {"note": "settled with the owner"})
    assert claim["status"] == "closed"
    claim = post(staff, claim, "reopen", {"note": "the integrator disputes the recovery"})
    assert claim["status"] == "under_review"
    again = staff.post(f"/v1/claims/{claim['id']}/approve", json={"agreed_loss_minor": 400_000})
    assert again.status_code == 409  # 350,000 payable and already paid: nothing more

    seen_by_holder = holder.get(f"/v1/claims/{claim['id']}/events").json()
    assert "reserve" not in {e["kind"] for e in seen_by_holder}
    transitions = [e["transition"] for e in seen_by_holder if e["kind"] == "transition"]
    assert transitions == ["triage", "assign", "approve", "pay", "close", "reopen"]
    staff_kinds = [e["kind"] for e in staff.get(f"/v1/claims/{claim['id']}/events").json()]
    assert staff_kinds.count("reserve") == 2


def test_limit_and_aggregate_bound_what_the_policy_pays(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    staff = api.client(ADJUSTER)

    def approved(agreed: int) -> Any:
        claim = reported(staff, insured.robots[1].id)
        post(staff, claim, "triage", {"severity": "critical", "fast_track": True})
        return post(staff, claim, "approve", {"agreed_loss_minor": agreed})

    assert approved(9_000_000)["payable_minor"] == 5_000_000  # the limit per loss
    assert approved(6_000_000)["payable_minor"] == 5_000_000  # what is left of 10,000,000
    exhausted = reported(staff, insured.robots[1].id)
    assert [r["code"] for r in exhausted["coverage_check"]["reasons"]] == ["aggregate_exhausted"]
    assert exhausted["coverage_check"]["aggregate_used_minor"] == 10_000_000


def test_a_loss_under_the_deductible_is_not_approved_and_a_denial_releases_reserves(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    staff = api.client(ADJUSTER)
    claim = reported(staff, insured.robots[0].id)
    post(staff, claim, "triage", {"severity": "low", "fast_track": True})
    post(staff, claim, "reserves", {"cost_type": "repair", "amount_minor": 40_000})
    small = staff.post(f"/v1/claims/{claim['id']}/approve", json={"agreed_loss_minor": 50_000})
    assert small.status_code == 409
    assert "deductible 50000" in small.json()["detail"]
    denied = post(
        staff, claim, "deny", {"reason_code": "below_deductible", "note": "under 500 EUR"}
    )
    assert (denied["status"], denied["decision_code"], denied["reserves"]) == (
        "denied",
        "below_deductible",
        [],
    )
    assert claim_balances(api, insured)["claims_incurred"] == 0
    assert claim_balances(api, insured)["claim_reserves"] == 0
    refused = staff.post(
        f"/v1/claims/{claim['id']}/reserves", json={"cost_type": "repair", "amount_minor": 1}
    )
    assert refused.status_code == 409


def test_triage_needs_the_fast_track_to_approve_and_assignment_an_active_adjuster(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    staff = api.client(ADJUSTER)
    claim = reported(staff, insured.robots[0].id)
    post(staff, claim, "triage", {"severity": "medium"})
    slow = staff.post(f"/v1/claims/{claim['id']}/approve", json={"agreed_loss_minor": 90_000})
    assert slow.status_code == 409
    assert "fast-track" in slow.json()["detail"]
    gone = adjuster(api.session, disabled=True)
    refused = staff.post(f"/v1/claims/{claim['id']}/assign", json={"adjuster_id": str(gone.id)})
    assert refused.status_code == 422
    not_adjuster = staff.post(
        f"/v1/claims/{claim['id']}/assign", json={"adjuster_id": str(ADJUSTER.id)}
    )
    assert not_adjuster.status_code == 422  # no such user


def test_the_policyholder_withdraws_and_its_notes_are_shared(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    holder, staff = api.client(HOLDER), api.client(ADJUSTER)
    claim = reported(holder, insured.robots[0].id)
    note = holder.post(
        f"/v1/claims/{claim['id']}/notes", json={"note": "photos follow", "internal": True}
    )
    assert note.status_code == 201
    assert note.json()["internal"] is False  # a policyholder's note is always shared
    staff_note = staff.post(f"/v1/claims/{claim['id']}/notes", json={"note": "call the integrator"})
    assert staff_note.json()["internal"] is True
    assert (
        holder.post(f"/v1/claims/{claim['id']}/triage", json={"severity": "low"}).status_code == 403
    )
    withdrawn = post(holder, claim, "withdraw", {"note": "found the cause ourselves"})
    assert (withdrawn["status"], withdrawn["decision_code"]) == ("closed", "withdrawn")
    notes = [
        e["note"]
        for e in holder.get(f"/v1/claims/{claim['id']}/events").json()
        if e["kind"] == "note"
    ]
    assert notes == ["photos follow"]


# Each status, and the body that makes each transition's preconditions hold there: a refused
# pair must be refused by the state machine, not by a missing precondition.
STATUSES = ["reported", "triaged", "under_review", "approved", "denied", "paid", "closed"]
ALLOWED = {
    "reported": {"triage", "deny", "withdraw"},
    "triaged": {"assign", "approve", "deny", "withdraw"},
    "under_review": {"assign", "approve", "deny", "withdraw"},
    "approved": {"pay"},
    "denied": {"close"},
    "paid": {"close"},
    "closed": {"reopen"},
}


@pytest.mark.parametrize("status", STATUSES)
def test_every_transition_through_the_api_from_each_status(
    api: ApiHarness, insured: InsuredFleet, status: str
) -> None:
    staff = api.client(ADJUSTER)
    someone = adjuster(api.session)
    bodies = {
        "triage": {"severity": "low"},
        "assign": {"adjuster_id": str(someone.id)},
        "approve": {"agreed_loss_minor": 300_000},
        "deny": {"reason_code": "duplicate", "note": "reported twice"},
        "pay": {"bank_reference": "TR-1"},
        "close": {"note": "done"},
        "reopen": {"note": "again"},
        "withdraw": {"note": "mistake"},
    }
    for transition, body in bodies.items():
        claim = reported(staff, insured.robots[0].id)
        row = api.session.get(Claim, claim["id"])
        assert row is not None
        row.status, row.fast_track, row.payable_minor = status, True, 250_000
        api.session.flush()
        response = staff.post(f"/v1/claims/{claim['id']}/{transition}", json=body)
        if transition in ALLOWED[status]:
            assert response.status_code == 200, (transition, response.text)
            assert response.json()["status"] != status or transition == "assign"
        else:
            assert response.status_code == 409, (transition, response.text)
            problem = response.json()
            assert f"a {status} claim cannot {transition}" in problem["detail"]
            assert set(problem["allowed"]) == ALLOWED[status]


def test_a_reopened_claim_keeps_what_it_paid_in_the_aggregate(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    staff = api.client(ADJUSTER)

    def approved(agreed: int) -> Any:
        claim = reported(staff, insured.robots[1].id)
        post(staff, claim, "triage", {"severity": "critical", "fast_track": True})
        return post(staff, claim, "approve", {"agreed_loss_minor": agreed})

    first = approved(9_000_000)
    post(staff, first, "pay", {"bank_reference": "TR-A"})
    post(staff, first, "close", {"note": "paid"})
    post(staff, first, "reopen", {"note": "a second look"})  # under review: it paid 5,000,000
    assert approved(9_000_000)["payable_minor"] == 5_000_000  # what is left of 10,000,000
    exhausted = reported(staff, insured.robots[1].id)
    assert exhausted["coverage_check"]["aggregate_used_minor"] == 10_000_000


def test_a_loss_before_2000_is_refused(api: ApiHarness, insured: InsuredFleet) -> None:
    response = report(api.client(HOLDER), insured.robots[0].id, loss_at="0001-01-01T00:00:00Z")
    assert response.status_code == 422
